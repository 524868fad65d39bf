"""Account changes: each runs in one transaction with its audit event."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest

from painclinic.web.accounts.models import Role, User
from painclinic.web.audit.services import Action, Category, audit


def do_create_staff(request: HttpRequest, actor: User, data: dict[str, Any]) -> User:
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
            request,
            category=Category.ACCOUNT,
            action=Action.CREATE,
            obj=user,
            detail={"username": user.username, "role": user.role},
        )
    return user


def do_change_role(request: HttpRequest, actor: User, user: User, role: str, reason: str) -> None:
    if actor.role != Role.CLINIC_ADMIN:
        raise PermissionDenied("only a clinic admin changes roles")
    if user.pk == actor.pk:
        raise PermissionDenied("nobody changes their own role")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = locked.role
        locked.role = role
        locked.save(update_fields=["role"])
        audit(
            request,
            category=Category.ACCOUNT,
            action=Action.ROLE_CHANGE,
            obj=locked,
            detail={"username": locked.username, "before": before, "after": role, "reason": reason},
        )
