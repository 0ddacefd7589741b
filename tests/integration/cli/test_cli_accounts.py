"""`imagegen keys|credits|jobs` and the CLI's surface, through the console script's `main`.

Each test runs `entrypoints.cli.main` as the `imagegen` script does, on a fresh embedded home,
and reads what it printed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import pytest

from entrypoints.cli import build_parser, main

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("IMAGEGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IMAGEGEN_LOG_LEVEL", "warning")
    monkeypatch.delenv("IMAGEGEN_PROFILE", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own exits (--help, --version, usage errors)
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip() and not line.startswith("imagegen: home ")]


def test_keys_create_gives_a_new_user_the_starter_credits_of_the_readme(cli) -> None:
    code, out, err = cli("keys", "create", "--user", "carol")
    assert code == 0 and out.strip().startswith("ig_")
    assert "created user 'carol'" in err and "100 starter credits" in err
    code, out, _ = cli("credits", "show", "--user", "carol", "--json")
    assert code == 0 and json.loads(out) == {"available": 100, "reserved": 0, "lifetimeSpent": 0}


def test_admin_flag_promotes_an_existing_user_and_says_so(cli, tmp_path: Path) -> None:
    assert cli("keys", "create", "--user", "dave")[0] == 0
    code, _, err = cli("keys", "create", "--user", "dave", "--admin")
    assert code == 0 and "promoted existing user 'dave' to admin" in err
    with sqlite3.connect(tmp_path / "home" / "imagegen.db") as db:
        assert db.execute("SELECT is_admin FROM users WHERE id = 'dave'").fetchone()[0] == 1


@pytest.mark.parametrize("user", ["", " ", "a b", "x" * 65])
def test_a_bad_user_id_exits_2_with_one_line_and_creates_nothing(cli, tmp_path: Path, user: str) -> None:
    code, _, err = cli("keys", "create", "--user", user)
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith("imagegen: error: user:")
    db = tmp_path / "home" / "imagegen.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_credits_grant_refuses_an_unknown_user_unless_told_to_create_it(cli) -> None:
    code, _, err = cli("credits", "grant", "--user", "ghost", "--amount", "5")
    assert code == 2 and error_lines(err) == ["imagegen: error: user ghost not found (pass --create to create it)"]
    code, out, err = cli("credits", "grant", "--user", "ghost", "--amount", "5", "--create")
    assert code == 0 and "available 105" in out and "created user 'ghost'" in err


def test_keys_list_revoke_and_rotate_change_what_authenticates(cli) -> None:
    cli("keys", "create", "--user", "erin")
    code, out, err = cli("keys", "list", "--user", "erin", "--json")
    listed = json.loads(out)
    assert code == 0 and len(listed) == 1 and listed[0]["state"] == "active"
    assert "secret" not in listed[0] and "imagegen: home" in err  # stdout is only the JSON
    key_id = listed[0]["id"]

    code, out, _ = cli("keys", "rotate", key_id, "--json")
    rotated = json.loads(out)
    assert code == 0 and rotated["secret"].startswith("ig_") and rotated["id"] != key_id
    states = {k["id"]: k["state"] for k in json.loads(cli("keys", "list", "--user", "erin", "--json")[1])}
    assert states == {key_id: "revoked", rotated["id"]: "active"}

    code, out, _ = cli("keys", "revoke", rotated["id"])
    assert code == 0 and f"revoked {rotated['id']}" in out
    code, _, err = cli("keys", "revoke", "key_nope")
    assert code == 2 and error_lines(err) == ["imagegen: error: key key_nope not found"]


def test_jobs_list_show_and_cancel_read_the_callers_jobs(cli) -> None:
    assert cli("generate", "a boat", "-n", "1", "--size", "32x32", "--out", "/tmp")[0] == 0
    code, out, _ = cli("jobs", "list", "--json")
    jobs = json.loads(out)
    assert code == 0 and len(jobs) == 1 and jobs[0]["status"] == "completed"
    code, out, _ = cli("jobs", "show", jobs[0]["id"], "--json")
    shown = json.loads(out)
    assert code == 0 and shown["id"] == jobs[0]["id"] and len(shown["images"]) == 1
    code, _, err = cli("jobs", "cancel", jobs[0]["id"])
    assert code == 2 and "imagegen: error:" in error_lines(err)[0]  # a finished job cannot be cancelled
    code, _, err = cli("jobs", "show", "job_missing")
    assert code == 2 and error_lines(err) == ["imagegen: error: job job_missing not found"]


def test_every_read_command_takes_json() -> None:
    reads = {("keys", "list"), ("credits", "show"), ("jobs", "list"), ("jobs", "show"), ("ledger", "audit")}
    parser = build_parser()
    groups = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for group, action in reads:
        sub = next(a for a in groups[group]._actions if isinstance(a, argparse._SubParsersAction))
        assert "--json" in sub.choices[action]._option_string_actions, (group, action)


def test_every_option_has_help_and_the_help_shows_defaults_and_examples(cli) -> None:
    parser = build_parser()

    def walk(p: argparse.ArgumentParser):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from walk(child)
            elif action.help != argparse.SUPPRESS or "--n" not in action.option_strings:
                yield p.prog, action

    missing = [(prog, a.dest) for prog, a in walk(parser) if not a.help]
    assert missing == []
    code, out, _ = cli("generate", "--help")
    assert code == 0 and "(default: 1024x1024)" in out and "example:" in out and "-n COUNT, --count COUNT" in out
    assert "--n " not in out  # the old spelling still works but is not advertised
    code, out, _ = cli("--help")
    assert code == 0 and "examples:" in out


def test_version_flag_prints_the_version(cli) -> None:
    for flag in ("-V", "--version"):
        code, out, _ = cli(flag)
        assert code == 0 and out.startswith("imagegen ") and out.strip() != "imagegen unknown"


def test_old_n_spelling_still_counts_images(cli, tmp_path: Path) -> None:
    code, out, _ = cli("generate", "x", "--n", "2", "--size", "32x32", "--out", str(tmp_path / "o"))
    assert code == 0 and "credits charged: 2" in out
    assert len(list((tmp_path / "o").glob("*.png"))) == 2


def test_ledger_audit_json(cli) -> None:
    cli("keys", "create", "--user", "fay")
    code, out, _ = cli("ledger", "audit", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["accounts"][0]["accountId"] == "fay"
