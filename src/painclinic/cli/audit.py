"""`painclinic audit ...`: operations on the append-only, hash-chained audit trail."""

from __future__ import annotations

import typer

from painclinic.cli._django import setup_django
from painclinic.cli._io import EXIT_REFUSED

audit_app = typer.Typer(help="Audit trail operations.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain; exit 1 naming the first bad event."""
    setup_django()
    from painclinic.web.audit.chain import verify_chain

    report = verify_chain()
    if report.ok:
        typer.echo(f"audit trail intact: {report.checked} events verified")
        return
    typer.echo(f"audit trail BROKEN at event {report.first_bad_id}: {report.reason}", err=True)
    raise typer.Exit(code=EXIT_REFUSED)


def register(app: typer.Typer) -> None:
    """Attach the ``audit`` group to the main application."""
    app.add_typer(audit_app, name="audit")
