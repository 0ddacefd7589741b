"""Issue 8 item 18: each forgery made with SQL access alone makes `imagegen ledger audit` (the
real CLI entry point, `entrypoints.cli.main`, in a process of its own) exit 1 and name the
account and the version. One child process audits every forged home in turn (the CLI's
logging setup must not leak into the test process).

The forger knows the algorithm and may re-seal the chain with plain SHA-256; only the ledger
key, which is not in the database, is out of reach.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from domain.ledger_events import GENESIS_HASH, decode_event, encode_event, sealed, sha256_chain
from tests.integration.cli.test_cli import imagegen

pytestmark = pytest.mark.integration

Forgery = Callable[[sqlite3.Connection], None]


@pytest.fixture(scope="module")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where `local` got its 100 starter credits (v1), reserved (v2) and captured (v3)."""
    home = tmp_path_factory.mktemp("ledger") / "home"
    made = imagegen(home, "generate", "a lighthouse", "--size", "64x64",
                    "--out", str(home.parent / "out"))
    assert made.returncode == 0, made.stderr
    audit = imagegen(home, "ledger", "audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "local: ok (3 events)" in audit.stdout
    return home


def _reseal_with_sha256(db: sqlite3.Connection, account: str, edit: Callable[[dict], dict],
                        version: int) -> None:
    """Edit one event's payload, re-seal the whole chain with SHA-256, and move the balance row
    (scalars and snapshot) to what the forged chain replays to."""
    rows = db.execute("SELECT version, payload FROM ledger_events WHERE account_id = ? "
                      "ORDER BY version", (account,)).fetchall()
    prev, events = GENESIS_HASH, []
    for v, payload in rows:
        data = msgspec.json.decode(payload)
        if v == version:
            data = edit(data)
        data["prev_hash"] = prev
        event = sealed(decode_event(msgspec.json.encode(data)), sha256_chain)
        prev = event.hash
        events.append(event)
        db.execute("UPDATE ledger_events SET amount = ?, prev_hash = ?, hash = ?, payload = ? "
                   "WHERE account_id = ? AND version = ?",
                   (event.amount, event.prev_hash, event.hash, encode_event(event).decode(),
                    account, v))
    from domain.credits import CreditLedger

    forged = CreditLedger.replay(account, events, hasher=sha256_chain).snapshot()
    db.execute("UPDATE balances SET available = ?, last_hash = ?, snapshot = ? "
               "WHERE account_id = ?",
               (forged.available, forged.last_hash,
                msgspec.json.encode(msgspec.structs.replace(forged, open_reservations=())).decode(),
                account))


def raise_grant_and_reseal(db: sqlite3.Connection) -> None:
    _reseal_with_sha256(db, "local", lambda e: {**e, "amount": 1_000_000}, version=1)


def raise_grant_reseal_and_mark_unkeyed(db: sqlite3.Connection) -> None:
    raise_grant_and_reseal(db)
    db.execute("UPDATE balances SET chain_kind = 'sha256' WHERE account_id = 'local'")


def edit_amount_column(db: sqlite3.Connection) -> None:
    db.execute("UPDATE ledger_events SET amount = 1000000 WHERE account_id = 'local' AND version = 1")


def edit_type_column(db: sqlite3.Connection) -> None:
    db.execute("UPDATE ledger_events SET type = 'reservation_released' "
               "WHERE account_id = 'local' AND version = 3")


def edit_job_id_column(db: sqlite3.Connection) -> None:
    db.execute("UPDATE ledger_events SET job_id = 'job_someone_else' "
               "WHERE account_id = 'local' AND version = 2")


def edit_available_scalar(db: sqlite3.Connection) -> None:
    db.execute("UPDATE balances SET available = 1000000 WHERE account_id = 'local'")


def edit_spent_scalar(db: sqlite3.Connection) -> None:
    db.execute("UPDATE balances SET lifetime_spent = 0 WHERE account_id = 'local'")


def edit_reserved_scalar(db: sqlite3.Connection) -> None:
    db.execute("UPDATE balances SET reserved = 7 WHERE account_id = 'local'")


def edit_version_scalar(db: sqlite3.Connection) -> None:
    db.execute("UPDATE balances SET version = 2 WHERE account_id = 'local'")


def edit_snapshot_document(db: sqlite3.Connection) -> None:
    db.execute("UPDATE balances SET snapshot = replace(snapshot, '\"available\":99', "
               "'\"available\":1000099') WHERE account_id = 'local'")


FORGERIES: list[tuple[Forgery, str]] = [
    (raise_grant_and_reseal, "version 1: hash does not match"),
    (raise_grant_reseal_and_mark_unkeyed, "not keyed"),
    (edit_amount_column, "version 1: column amount=1000000"),
    (edit_type_column, "version 3: column type='reservation_released'"),
    (edit_job_id_column, "version 2: column job_id='job_someone_else'"),
    (edit_available_scalar, "balances row says available=1000000"),
    (edit_spent_scalar, "balances row says lifetime_spent=0"),
    (edit_reserved_scalar, "balances row says reserved=7"),
    (edit_version_scalar, "balances row says version=2"),
    (edit_snapshot_document, "balances snapshot says available=1000099"),
]

_DRIVER = """
import contextlib, io, json, os, sys
from entrypoints.cli import main
results = {}
for home in sys.argv[1:]:
    os.environ["IMAGEGEN_HOME"] = home
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["ledger", "audit", "--account", "local"])
    results[home] = [code, out.getvalue()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def audits(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """`imagegen ledger audit --account local` of an untouched copy and of each forged copy."""
    root = tmp_path_factory.mktemp("forged")
    homes = {}
    for forge, _ in [(None, ""), *FORGERIES]:
        name = "clean" if forge is None else forge.__name__
        home = root / name
        shutil.copytree(template_home, home)
        if forge is not None:
            with sqlite3.connect(home / "imagegen.db") as db:
                forge(db)
        homes[name] = str(home)
    env = {**os.environ, "IMAGEGEN_LOG_LEVEL": "warning"}
    done = subprocess.run([sys.executable, "-c", _DRIVER, *homes.values()], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    return {name: tuple(results[home]) for name, home in homes.items()}


def test_an_untouched_copy_audits_clean(audits: dict[str, tuple[int, str]]) -> None:
    code, out = audits["clean"]
    assert code == 0 and "local: ok (3 events)" in out, out


@pytest.mark.parametrize(("forge", "needle"), FORGERIES, ids=[f.__name__ for f, _ in FORGERIES])
def test_a_forgery_with_sql_access_only_fails_the_audit_naming_account_and_version(
        audits: dict[str, tuple[int, str]], forge: Forgery, needle: str) -> None:
    code, out = audits[forge.__name__]
    assert code == 1, out
    assert "local: MISMATCH" in out
    assert needle in out, out
