"""`painclinic audit ...`: operations on the append-only, keyed, hash-chained audit trail."""

from __future__ import annotations

from pathlib import Path

import typer

from painclinic.cli._django import setup_django
from painclinic.cli._io import EXIT_REFUSED

audit_app = typer.Typer(help="Audit trail operations.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    checkpoints: str | None = typer.Option(
        None,
        "--checkpoints",
        help="the checkpoint file to check against (default: the configured one; give the "
        "copy shipped off the machine to check against that)",
    ),
) -> None:
    """Check the audit trail's chain and its signed checkpoints; exit 1 naming the first
    problem (an edited, deleted or re-sealed event, deleted latest events, a forged
    checkpoint)."""
    setup_django()
    from painclinic.web.audit.chain import verify_chain

    report = verify_chain(checkpoint_file=Path(checkpoints) if checkpoints else None)
    if not report.ok:
        where = f" at event {report.first_bad_id}" if report.first_bad_id is not None else ""
        typer.echo(f"audit trail BROKEN{where}: {report.reason}", err=True)
        raise typer.Exit(code=EXIT_REFUSED)
    sealed = f"{report.keyed} sealed with a key"
    if report.legacy:
        sealed += f", {report.legacy} from before keys (plain hash)"
    if report.last_checkpoint is None:
        pinned = (
            f"no checkpoint in {report.checkpoint_file} yet "
            "(painclinic audit checkpoint writes one)"
        )
    else:
        count = "1 checkpoint" if report.checkpoints == 1 else f"{report.checkpoints} checkpoints"
        pinned = (
            f"{count} in {report.checkpoint_file} agree, "
            f"the last at event #{report.last_checkpoint}"
        )
    typer.echo(f"audit trail intact: {report.checked} events verified ({sealed}); {pinned}")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Append a signed checkpoint of the chain's head to the checkpoint file (ship that file
    off the machine: syslog, backup)."""
    setup_django()
    from painclinic.web.audit.chain import checkpoint_head
    from painclinic.web.audit.checkpoints import checkpoint_path

    try:
        line = checkpoint_head()
    except OSError as error:
        typer.echo(
            f"error: cannot write the checkpoint to {checkpoint_path()}: {error.strerror or error}",
            err=True,
        )
        raise typer.Exit(code=EXIT_REFUSED) from None
    if line is None:
        typer.echo("the audit trail is empty: nothing to checkpoint")
        return
    typer.echo(f"checkpoint appended to {checkpoint_path()}:")
    typer.echo(line)


def register(app: typer.Typer) -> None:
    """Attach the ``audit`` group to the main application."""
    app.add_typer(audit_app, name="audit")
