"""Guard for ADR 0002 / STYLE 4: our four generic top-level packages are really ours.

`domain`, `application`, `adapters` and `entrypoints` share site-packages with every dependency
(`entrypoints` and `adapters` exist on PyPI). If a dependency ever installs one, these tests fail
instead of the service silently importing someone else's code.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGES = ("domain", "application", "adapters", "entrypoints")
OUR_DISTRIBUTION = "imagegen-service"


def normalised(distribution: str) -> str:
    """PEP 503 normalisation: 'imagegen_service' and 'Imagegen.Service' are the same project."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_our_distribution_has_a_distinctive_name() -> None:
    assert normalised(importlib.metadata.metadata(OUR_DISTRIBUTION)["Name"]) == OUR_DISTRIBUTION


@pytest.mark.parametrize("package", PACKAGES)
def test_no_other_distribution_claims_the_package_name(package: str) -> None:
    claimants = importlib.metadata.packages_distributions().get(package, [])

    assert [d for d in claimants if normalised(d) != OUR_DISTRIBUTION] == []


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_is_imported_from_the_repository_src(package: str) -> None:
    module = importlib.import_module(package)

    assert module.__file__ is not None, f"{package} is a namespace package, not ours"
    assert Path(module.__file__).resolve() == SRC / package / "__init__.py"
    assert [Path(p).resolve() for p in module.__path__] == [SRC / package]


def test_src_itself_is_not_a_package() -> None:
    assert not (SRC / "__init__.py").exists()


def test_nothing_imports_through_src() -> None:
    offenders: list[str] = []
    for path in [*SRC.rglob("*.py"), *(ROOT / "tests").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                          for name in names if name == "src" or name.startswith("src.")]

    assert offenders == []
