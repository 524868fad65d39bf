"""`painclinic pk ...` and `painclinic dose ...` (filled in by the pharmacology work)."""

import typer


def register(app: typer.Typer) -> None:
    """Attach the pharmacology sub-commands to the main application."""
