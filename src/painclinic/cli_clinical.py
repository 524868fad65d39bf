"""`painclinic assess|eligibility|protocol ...` (filled in by the clinical-rules work)."""

import typer


def register(app: typer.Typer) -> None:
    """Attach the clinical sub-commands to the main application."""
