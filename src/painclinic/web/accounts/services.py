"""Account changes: each runs in one transaction with its audit event."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.roles import ROLES
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.service import Actor, Channel, Refused, note_subject, service


@dataclass(frozen=True)
class StaffAccount:
    """A new staff account; the password has passed the validators at the boundary."""

    username: str
    first_name: str
    last_name: str
    role: str
    password: str
    email: str = ""
    registration_number: str = ""


# A username is shown on pages, in the audit report and in its CSV export: letters, digits and
# . _ - @ only, starting with a letter or digit (so it can never begin like a spreadsheet
# formula, =, +, - or @), ASCII only (no look-alike letters from other scripts).
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,149}")
USERNAME_RULE = (
    "Use letters, digits and the characters . _ - @ only (no spaces), starting with a letter "
    "or a digit, at most 150 characters."
)


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot name an account (None when it can)."""
    if not USERNAME_PATTERN.fullmatch(username or ""):
        return USERNAME_RULE
    return None


@service(ROLES.create_staff_account, category=Category.ACCOUNT, action=Action.CREATE)
def do_create_staff(actor: Actor, account: StaffAccount) -> User:
    if account.role in (Role.PATIENT, Role.SYSTEM):
        raise Refused("Staff accounts take a staff role.", "role")
    problem = username_problem(account.username)
    if problem:
        raise Refused(problem, "username")
    with transaction.atomic():
        if User.objects.filter(username__iexact=account.username).exists():
            raise Refused("That username is taken.", "username")
        user = User(
            username=account.username,
            first_name=account.first_name,
            last_name=account.last_name,
            email=account.email,
            role=account.role,
            registration_number=account.registration_number,
        )
        user.set_password(account.password)
        user.save()
        audit(
            actor,
            category=Category.ACCOUNT,
            action=Action.CREATE,
            obj=user,
            detail={"username": user.username, "role": user.role},
        )
    return user


@service(ROLES.own_account, category=Category.ACCOUNT, action=Action.UPDATE)
def do_change_password(actor: Actor, new_password: str) -> User:
    """The actor's own new password (already checked against their current one by the page),
    saved with an audit event that says it changed and carries no password."""
    user = actor.user
    note_subject(obj=user)
    if not new_password:
        raise Refused("Enter the new password.", "new_password1")
    try:
        validate_password(new_password, user)
    except ValidationError as error:
        raise Refused(" ".join(error.messages), "new_password2") from None
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.password_must_change = False
        locked.save(update_fields=["password", "password_must_change"])
        audit(
            actor,
            category=Category.ACCOUNT,
            action=Action.UPDATE,
            obj=locked,
            detail={"event": "password changed", "username": locked.username},
        )
    return locked


@service(ROLES.reset_staff_password, category=Category.ACCOUNT, action=Action.UPDATE)
def do_reset_password(actor: Actor, user: User, temporary_password: str, reason: str) -> User:
    """Give ``user`` a temporary password that must be changed at the next sign-in.

    For a colleague who forgot theirs (a clinic admin, on the staff page) or for a locked-out
    clinic admin (the server's operator, ``painclinic accounts reset-password``). Every session
    of the user ends (Django ties a session to the password hash), the log-in lock-out of the
    username is lifted, and the audit event carries the reason but no password. Nobody resets
    their own password this way (they change it, knowing the current one).
    """
    note_subject(obj=user, target_username=user.username)
    if user.pk == actor.user.pk:
        raise PermissionDenied("nobody resets their own password; change it instead")
    if user.role == Role.SYSTEM or not user.is_active:
        raise Refused("This account cannot sign in, so it has no password to reset.", "username")
    if not reason.strip():
        raise Refused("Say why the password is reset.", "reason")
    if not temporary_password:
        raise Refused("Enter the temporary password.", "temporary_password")
    try:
        validate_password(temporary_password, user)
    except ValidationError as error:
        raise Refused(" ".join(error.messages), "temporary_password") from None
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(temporary_password)
        locked.password_must_change = True
        locked.save(update_fields=["password", "password_must_change"])
        _lift_lockout(locked.username)
        audit(
            actor,
            category=Category.ACCOUNT,
            action=Action.UPDATE,
            obj=locked,
            detail={
                "event": "password reset",
                "username": locked.username,
                "reason": reason.strip(),
            },
        )
    return locked


def _lift_lockout(username: str) -> None:
    """Forget the failed log-ins that locked ``username`` out (django-axes)."""
    from axes.utils import reset

    reset(username=username)


@service(ROLES.change_role, category=Category.ACCOUNT, action=Action.ROLE_CHANGE)
def do_change_role(actor: Actor, user: User, role: str, reason: str) -> None:
    note_subject(obj=user, target_username=user.username)
    if user.pk == actor.user.pk:
        raise PermissionDenied("nobody changes their own role")
    if role in (Role.PATIENT, Role.SYSTEM) or role not in Role.values:
        raise Refused("Choose a staff role.", "role")
    if not reason.strip():
        raise Refused("Say why the role changes.", "reason")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = locked.role
        locked.role = role
        locked.save(update_fields=["role"])
        audit(
            actor,
            category=Category.ACCOUNT,
            action=Action.ROLE_CHANGE,
            obj=locked,
            detail={"username": locked.username, "before": before, "after": role, "reason": reason},
        )


SYSTEM_USERNAME = "painclinic-system"


def system_user() -> User:
    """The one non-login user that unattended work acts as (created on first use).

    It has no usable password and is inactive, so no log-in can reach it; its role, ``system``,
    is in no view's or service's role table unless a rule names it.
    """
    user, created = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"role": Role.SYSTEM, "is_active": False, "first_name": "painclinic"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def system_actor(channel: Channel = Channel.WORKER, origin: str = "") -> Actor:
    """An actor for work nobody started by hand (a job, a scheduled command)."""
    return Actor.for_user(system_user(), channel, origin)
