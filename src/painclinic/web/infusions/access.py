"""Reads of infusion records: permission check on the session's patient, then a read-audit row."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.http import Http404

from painclinic.web.audit.models import Category
from painclinic.web.audit.services import Action
from painclinic.web.infusions.models import InfusionSession
from painclinic.web.lib.rowreads import joined_row
from painclinic.web.lib.service import Actor
from painclinic.web.patients import access as patient_access
from painclinic.web.treatments.models import PlannedSession

INFUSION_CATEGORY: str = Category.INFUSION


# What the chart pages and the infusion services read of a session and the rows it joins, in
# one query (web/lib/rowreads.py: joined_row): the chart is the most-read page of the clinic, and a
# patient row alone has 28 columns. A field left out here still loads (one more query) when
# some code path reads it. An empty tuple means every field.
SESSION_READ: dict[str, tuple[str, ...]] = {
    "": (),
    "patient": (
        "legal_given_name",
        "legal_family_name",
        "preferred_name",
        "date_of_birth",
        "sex_at_birth",
        "portal_user",
    ),
    "plan": (
        "patient",
        "drug",
        "protocol_id",
        "protocol_version",
        "weight",
        "dosing_weight_kg",
        "limit_status",
        "soft_limit_reason",
        "status",
        "version",
    ),
    "plan__weight": ("patient", "weight_kg", "height_cm", "measured_on"),
    "planned_session": ("plan", "number", "day_offset", "duration_min", "total_mg", "steps"),
    "booking": (
        "patient",
        "chair",
        "plan",
        "planned_session",
        "starts_at",
        "ends_at",
        "status",
        "cancel_reason",
        "version",
    ),
    "booking__chair": ("name", "location", "active"),
}


def deny(actor: Actor, object_type: str, object_id: object) -> Http404:
    return patient_access.deny(actor, object_type, object_id, category=INFUSION_CATEGORY)


def get_session_for(
    actor: Actor,
    session_id: int,
    *,
    action: str = Action.VIEW,
    detail: dict[str, Any] | None = None,
) -> InfusionSession:
    """The session with its patient, plan and booking, or 404 (audited) if not visible."""
    return patient_access.read_for(
        actor,
        lambda: joined_row(
            InfusionSession,
            session_id,
            SESSION_READ,
            counts={"plan_session_count": (PlannedSession, "plan", "plan")},
        ),
        session_id,
        category=INFUSION_CATEGORY,
        action=action,
        detail=detail,
    )


def get_child_for[T: Model](
    actor: Actor, session: InfusionSession, model: type[T], object_id: int
) -> T:
    """A row of ``session`` by its own id; another session's row is a 404 (audited)."""
    row = model._default_manager.filter(pk=object_id, session=session).first()
    if row is None:
        raise deny(actor, model._meta.model_name or "row", object_id)
    return row
