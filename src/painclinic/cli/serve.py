"""`painclinic serve`: the clinic web app on Django's server (gunicorn in production)."""

from __future__ import annotations

import typer

from painclinic.cli._io import refuse


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Serve the clinic app (Django's server; use gunicorn in production).

    Refuses to start (one line on standard error, exit status 1) when the settings are not
    usable (a missing or weak secret key in production, a malformed variable), the database
    cannot be reached, a migration is not applied, or the storage can lose committed writes.
    """
    from painclinic.web.lib.startup import startup_refusal

    refusal = startup_refusal()
    if refusal:
        refuse(refusal)

    from django.core.management import (
        CommandError,
        call_command,
        get_commands,
        load_command_class,
    )

    from painclinic.cli._server import QuietWSGIServer
    from painclinic.cli._slots import bounded_handlers, request_slots
    from painclinic.web.lib.env import SettingError

    # runserver as installed (staticfiles' own, when that app is), with a server that does not
    # name its Python version in every response.
    command = load_command_class(get_commands()["runserver"], "runserver")
    command.server_cls = QuietWSGIServer  # type: ignore[attr-defined]
    # At most PAINCLINIC_SERVE_REQUEST_SLOTS requests run the app at once (cli/_slots.py).
    try:
        slots = request_slots()
    except SettingError as error:
        refuse(f"refusing to serve: {error}")
    command.get_handler = bounded_handlers(command.get_handler, slots)  # type: ignore[attr-defined]
    try:
        call_command(command, f"{host}:{port}", "--noreload")
    except CommandError as error:  # a failed system check, ALLOWED_HOSTS unset in production
        refuse(f"refusing to serve: {error}")


def register(app: typer.Typer) -> None:
    """Attach ``serve`` to the main application."""
    app.command()(serve)
