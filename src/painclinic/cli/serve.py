"""`painclinic serve`: the clinic web app on Django's server (gunicorn in production)."""

from __future__ import annotations

import typer

from painclinic.cli._django import setup_django
from painclinic.cli._io import EXIT_REFUSED


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Serve the clinic app (Django's server; use gunicorn in production)."""
    setup_django()
    from django.core.management import call_command

    from painclinic.web.lib.durability import durability_problems

    problems = durability_problems()
    if problems:
        for problem in problems:
            typer.echo(f"refusing to serve: {problem}", err=True)
        raise typer.Exit(code=EXIT_REFUSED)

    call_command("runserver", f"{host}:{port}", "--noreload")


def register(app: typer.Typer) -> None:
    """Attach ``serve`` to the main application."""
    app.command()(serve)
