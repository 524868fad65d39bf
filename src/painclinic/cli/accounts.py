"""`painclinic accounts ...`: the server operator's account tasks, each audited.

The first clinic admin of a new installation, and a new password for a clinic admin who is
locked out, when nobody can sign in to do it on the staff page. Both act as the system user
through the command line (the audit trail says so, with the operating-system user who ran
the command), call the same account services as the staff pages, and read the password from
a hidden prompt, or from standard input with ``--password-stdin`` (never from an argument,
which ``ps`` and shell history would keep). Django's own ``createsuperuser`` and
``changepassword`` are refused by ``painclinic manage``: they write no audit event and make
accounts without a role.
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

import typer

from painclinic.cli._django import setup_django
from painclinic.cli._io import refuse

if TYPE_CHECKING:
    from painclinic.web.lib.actor import Actor

accounts_app = typer.Typer(
    help="Staff accounts (the server operator's tasks).", no_args_is_help=True
)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _read_password(password_stdin: bool, what: str) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt(what, hide_input=True)
    again = typer.prompt(f"{what}, again", hide_input=True)
    if first != again:
        refuse(f"refused: {what.lower()}: the two entries differ; nothing changed")
    return str(first)


def _actor(command: str) -> Actor:
    from painclinic.web.accounts.services import system_actor
    from painclinic.web.lib.actor import Channel

    return system_actor(Channel.CLI, f"painclinic accounts {command} (by {_operator()})")


@accounts_app.command("create-admin")
def create_admin(
    username: str = typer.Argument(..., help="the new clinic admin's username"),
    first_name: str = typer.Option(..., "--first-name", help="given name"),
    last_name: str = typer.Option(..., "--last-name", help="family name"),
    email: str = typer.Option("", "--email", help="e-mail address"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from standard input"
    ),
) -> None:
    """Create a clinic admin account (the first one of a new installation), audited."""
    setup_django()
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from painclinic.web.accounts.models import Role, User
    from painclinic.web.accounts.services import StaffAccount, do_create_staff
    from painclinic.web.lib.service import Refused

    password = _read_password(password_stdin, "Password")
    probe = User(username=username, first_name=first_name, last_name=last_name, email=email)
    try:
        validate_password(password, probe)
    except ValidationError as error:
        refuse(f"refused: password: {' '.join(error.messages)}; nothing changed")
    account = StaffAccount(
        username=username,
        first_name=first_name,
        last_name=last_name,
        role=Role.CLINIC_ADMIN,
        password=password,
        email=email,
    )
    try:
        user = do_create_staff(_actor("create-admin"), account)
    except Refused as error:
        refuse(f"refused: {error.field}: {error.message} Nothing changed.")
    typer.echo(f"clinic admin {user.username} created (audited); sign in at /accounts/login/")


@accounts_app.command("reset-password")
def reset_password(
    username: str = typer.Argument(..., help="whose password"),
    reason: str = typer.Option(..., "--reason", help="why (kept in the audit trail)"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the temporary password from standard input"
    ),
) -> None:
    """Give a staff member a temporary password they must change at their next sign-in; their
    sessions end and a log-in lock-out is lifted. Audited with the reason, never the password."""
    setup_django()
    from painclinic.web.accounts.models import Role, User
    from painclinic.web.accounts.services import do_reset_password
    from painclinic.web.lib.service import Refused

    user = User.objects.filter(username=username).exclude(role=Role.PATIENT).first()
    if user is None:
        refuse(f"refused: username: no staff account is called {username!r}; nothing changed")
    password = _read_password(password_stdin, "Temporary password")
    try:
        do_reset_password(_actor("reset-password"), user, password, reason)
    except Refused as error:
        refuse(f"refused: {error.field}: {error.message} Nothing changed.")
    typer.echo(
        f"{user.username} has a temporary password (audited); they choose a new one at their "
        "next sign-in"
    )


def register(app: typer.Typer) -> None:
    """Attach ``accounts`` to the main application."""
    app.add_typer(accounts_app, name="accounts")
