"""Guards of the hexagon: import-linter's contracts hold, and the core imports no frameworks.

The AST checks back up import-linter with a stricter allow-list: the domain may import only the
standard library and msgspec (STYLE 3.1), the application also the domain; and the domain
never reads the clock, makes ids, logs, or touches the network or the disk.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
STDLIB = frozenset(sys.stdlib_module_names)
IMPURE_STDLIB = frozenset({
    "logging", "uuid", "random", "time", "os", "socket", "ssl", "subprocess", "threading",
    "multiprocessing", "asyncio", "io", "pathlib", "shutil", "tempfile", "urllib", "http",
    "sqlite3", "secrets",
})
CLOCK_AND_IO_CALLS = frozenset({"now", "utcnow", "today", "open", "print", "uuid4", "uuid1"})


def python_files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the module at `path` under src/."""
    package = ".".join(path.relative_to(SRC).with_suffix("").parts[:-1])
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in `source`, even nested ones; relative ones resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield node.lineno, f"{base}.{node.module}" if node.module else base
            else:
                yield node.lineno, node.module or ""


def offending_imports(package: str, allowed: frozenset[str]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line} imports {module}"
            for path in python_files(package)
            for line, module in imported_modules(path)
            if module.split(".")[0] not in allowed]


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_domain_imports_only_the_standard_library_and_msgspec() -> None:
    assert python_files("domain"), "src/domain has no modules"
    allowed = STDLIB | {"msgspec", "domain"}

    assert offending_imports("domain", allowed) == []


def test_the_application_imports_no_adapters_entrypoints_or_frameworks() -> None:
    allowed = STDLIB | {"msgspec", "domain", "application"}

    assert offending_imports("application", allowed) == []


def test_the_domain_never_logs_reads_the_clock_makes_ids_or_does_io() -> None:
    problems: list[str] = []
    for path in python_files("domain"):
        where = path.relative_to(ROOT)
        problems += [f"{where}:{line} imports {module}"
                     for line, module in imported_modules(path)
                     if module.split(".")[0] in IMPURE_STDLIB]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in CLOCK_AND_IO_CALLS:
                    problems.append(f"{where}:{node.lineno} calls {name}()")

    assert problems == []


def test_the_import_scanner_sees_relative_nested_and_type_checking_imports() -> None:
    """The guards above are only as good as this walker, so check it on a known source."""
    source = (
        "import os.path, msgspec\n"
        "from . import errors\n"
        "from ..application import ports\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from adapters.memory import jobs\n"
        "def f():\n"
        "    import sqlalchemy\n"
    )

    found = [module for _, module in imports_in(source, "domain.sub")]

    assert found == ["os.path", "msgspec", "domain.sub", "domain.application", "typing",
                     "adapters.memory", "sqlalchemy"]
