"""`painclinic manage ...`: pass-through to Django's management commands."""

from __future__ import annotations

import typer

from painclinic.cli._django import setup_django


def manage(ctx: typer.Context) -> None:
    """Pass-through to Django management commands: painclinic manage migrate, ..."""
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["painclinic manage", *ctx.args])


def register(app: typer.Typer) -> None:
    """Attach ``manage`` to the main application (every argument goes to Django, even --help)."""
    app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(manage)
