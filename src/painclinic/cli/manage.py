"""`painclinic manage ...`: pass-through to Django's management commands."""

from __future__ import annotations

import typer

from painclinic.cli._django import setup_django
from painclinic.cli._io import refuse

# Django commands that change accounts without an audit event (and, for createsuperuser, make
# an account with no role, which no page admits): the audited command instead.
UNAUDITED_ACCOUNT_COMMANDS = {
    "createsuperuser": "painclinic accounts create-admin",
    "changepassword": "painclinic accounts reset-password (or the staff page's Reset password)",
}


def manage(ctx: typer.Context) -> None:
    """Pass-through to Django management commands: painclinic manage migrate, ..."""
    command = next((arg for arg in ctx.args if not arg.startswith("-")), "")
    if command in UNAUDITED_ACCOUNT_COMMANDS:
        refuse(
            f"refused: '{command}' changes accounts without an audit event; use "
            f"{UNAUDITED_ACCOUNT_COMMANDS[command]}"
        )
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["painclinic manage", *ctx.args])


def register(app: typer.Typer) -> None:
    """Attach ``manage`` to the main application (every argument goes to Django, even --help)."""
    app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(manage)
