"""The clinical core is pure Python: no Django, and only pharmacology's public API."""

from __future__ import annotations

import ast
from pathlib import Path

import painclinic.clinical

PACKAGE = Path(painclinic.clinical.__file__).parent


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_django_import() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        for name in _imports(path)
        if name == "django" or name.startswith("django.")
    ]
    assert offenders == []


def test_pharmacology_only_through_public_api() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        for name in _imports(path)
        if name.startswith("painclinic.pharmacology.") or name.startswith("painclinic.web")
    ]
    assert offenders == []


def test_the_walk_sees_the_sources() -> None:
    assert len(list(PACKAGE.rglob("*.py"))) >= 5
