"""The pharmacology core must never import Django (architecture rule)."""

from __future__ import annotations

import ast
import pathlib

import painclinic.pharmacology as pharmacology

PACKAGE = pathlib.Path(pharmacology.__file__).resolve().parent


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.append(str(node.args[0].value))
    return names


def test_no_module_in_the_package_imports_django() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) >= 5
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sources
        for name in _imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if name == "django" or name.startswith("django.")
    ]
    assert offenders == []


def test_the_cli_modules_do_not_import_django_either() -> None:
    for name in ("pharmacology.py", "_io.py"):
        cli = PACKAGE.parent / "cli" / name
        names = _imported_modules(ast.parse(cli.read_text(encoding="utf-8")))
        assert not [n for n in names if n == "django" or n.startswith("django.")], name
