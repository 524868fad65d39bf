"""The one way the rest of the app writes audit events."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from painclinic.web.audit.chain import append_event
from painclinic.web.audit.models import Action, AuditEvent, Category, Outcome

__all__ = ["Action", "Category", "Outcome", "audit", "client_ip"]


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or None


def audit(
    request: HttpRequest | None,
    *,
    category: str,
    action: str,
    patient: Any = None,
    obj: models.Model | None = None,
    outcome: str = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    actor: Any = None,
) -> AuditEvent:
    """Append an audit event for ``request``'s user (or ``actor``) about ``patient``/``obj``."""
    user = actor if actor is not None else getattr(request, "user", None)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    return append_event(
        actor=user if authenticated else None,
        actor_username=(
            user.get_username()
            if user is not None and authenticated
            else (detail or {}).get("username", "")
        ),
        actor_role=getattr(user, "role", "") if authenticated else "",
        patient=patient,
        category=category,
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        outcome=outcome,
        client_ip=client_ip(request),
        detail=detail or {},
    )
