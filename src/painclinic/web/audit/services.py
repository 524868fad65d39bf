"""The one way the rest of the app writes audit events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from painclinic.web.audit.chain import append_event, append_events
from painclinic.web.audit.models import Action, AuditEvent, Category, Outcome
from painclinic.web.lib.actor import Actor

__all__ = ["Action", "Category", "Outcome", "audit", "audit_each"]


def audit(
    actor: Actor,
    *,
    category: str,
    action: str,
    patient: Any = None,
    obj: models.Model | None = None,
    outcome: str = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event: ``actor`` did ``action`` on ``patient``/``obj``.

    An anonymous actor (a failed log-in) is recorded under the username it typed, taken from
    ``detail["username"]``.
    """
    return append_event(**_fields(actor, category, action, patient, obj, outcome, detail))


def audit_each(
    actor: Actor,
    *,
    category: str,
    action: str,
    events: Iterable[tuple[Any, models.Model | None, dict[str, Any]]],
    outcome: str = Outcome.SUCCESS,
) -> list[AuditEvent]:
    """Append one event per ``(patient, obj, detail)``, in order, as one batch (one chain lock
    and one INSERT): the same events ``audit`` would write one by one, for a worker that acts
    on hundreds of patients' records in one transaction."""
    return append_events(
        [
            _fields(actor, category, action, patient, obj, outcome, detail)
            for patient, obj, detail in events
        ]
    )


def _fields(
    actor: Actor,
    category: str,
    action: str,
    patient: Any,
    obj: models.Model | None,
    outcome: str,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    if not isinstance(actor, Actor):
        raise TypeError(f"audit() takes an Actor, got {type(actor).__name__}")
    signed_in = actor.is_authenticated
    return dict(
        actor=actor.user if signed_in else None,
        actor_username=actor.username if signed_in else (detail or {}).get("username", ""),
        actor_role=actor.role if signed_in else "",
        patient=patient,
        category=category,
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        outcome=outcome,
        client_ip=actor.client_ip,
        channel=str(actor.channel),
        origin=actor.origin,
        detail=detail or {},
    )
