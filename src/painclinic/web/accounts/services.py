"""Account changes: each runs in one transaction with its audit event."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from painclinic.web.accounts.models import Role, User
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.service import Actor, Channel


def do_create_staff(actor: Actor, data: dict[str, Any]) -> User:
    if actor.role != Role.CLINIC_ADMIN:
        raise PermissionDenied("only a clinic admin creates staff accounts")
    with transaction.atomic():
        user = User(
            username=data["username"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data.get("email", ""),
            role=data["role"],
            registration_number=data.get("registration_number", ""),
        )
        user.set_password(data["password"])
        user.save()
        audit(
            actor,
            category=Category.ACCOUNT,
            action=Action.CREATE,
            obj=user,
            detail={"username": user.username, "role": user.role},
        )
    return user


def do_change_role(actor: Actor, user: User, role: str, reason: str) -> None:
    if actor.role != Role.CLINIC_ADMIN:
        raise PermissionDenied("only a clinic admin changes roles")
    if user.pk == actor.user.pk:
        raise PermissionDenied("nobody changes their own role")
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
