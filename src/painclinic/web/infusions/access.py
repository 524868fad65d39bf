"""Reads of infusion records: permission check on the session's patient, then a read-audit row."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, Model, OuterRef, Subquery
from django.http import Http404, HttpRequest

from painclinic.web.audit.models import Category
from painclinic.web.audit.services import Action, Outcome, audit
from painclinic.web.infusions.models import InfusionSession
from painclinic.web.patients.access import may_see_patient
from painclinic.web.treatments.models import PlannedSession

# Until the integrator adds Category.INFUSION to audit/models.py, the same value is used here
# (the column is a plain string; the report shows it as is).
INFUSION_CATEGORY: str = getattr(Category, "INFUSION", "infusion")


# What the chart pages and the infusion services read of a session and the rows it joins: the
# chart is the most-read page of the clinic, and a patient row alone has 28 columns. A column
# left out here still loads (one more query) when some code path reads it.
SESSION_COLUMNS = (
    *(f.name for f in InfusionSession._meta.concrete_fields),
    "patient__legal_given_name",
    "patient__legal_family_name",
    "patient__preferred_name",
    "patient__date_of_birth",
    "patient__sex_at_birth",
    "patient__portal_user",
    "plan__patient",
    "plan__drug",
    "plan__protocol_id",
    "plan__protocol_version",
    "plan__weight",
    "plan__dosing_weight_kg",
    "plan__limit_status",
    "plan__soft_limit_reason",
    "plan__status",
    "plan__version",
    "plan__weight__patient",
    "plan__weight__weight_kg",
    "plan__weight__height_cm",
    "plan__weight__measured_on",
    "planned_session__plan",
    "planned_session__number",
    "planned_session__day_offset",
    "planned_session__duration_min",
    "planned_session__total_mg",
    "planned_session__steps",
    "booking__patient",
    "booking__chair",
    "booking__plan",
    "booking__planned_session",
    "booking__starts_at",
    "booking__ends_at",
    "booking__status",
    "booking__version",
    "booking__chair__name",
    "booking__chair__location",
    "booking__chair__active",
)


def deny(request: HttpRequest, object_type: str, object_id: object) -> Http404:
    audit(
        request,
        category=INFUSION_CATEGORY,
        action=Action.ACCESS_DENIED,
        outcome=Outcome.DENIED,
        detail={"object_type": object_type, "object_id": str(object_id), "path": request.path},
    )
    return Http404("No such record")


def get_session_for(
    request: HttpRequest,
    session_id: int,
    *,
    action: str = Action.VIEW,
    detail: dict[str, Any] | None = None,
) -> InfusionSession:
    """The session with its patient, plan and booking, or 404 (audited) if not visible."""
    session = (
        InfusionSession.objects.select_related(
            "patient", "plan", "plan__weight", "planned_session", "booking", "booking__chair"
        )
        .only(*SESSION_COLUMNS)
        .annotate(
            plan_session_count=Subquery(
                PlannedSession.objects.filter(plan=OuterRef("plan"))
                .order_by()
                .values("plan")
                .annotate(n=Count("id"))
                .values("n"),
                output_field=IntegerField(),
            )
        )
        .filter(pk=session_id)
        .order_by()
        .first()
    )
    if session is None or not may_see_patient(request.user, session.patient):
        raise deny(request, "infusionsession", session_id)
    audit(
        request,
        category=INFUSION_CATEGORY,
        action=action,
        patient=session.patient,
        obj=session,
        detail=detail,
    )
    return session


def get_child_for[T: Model](
    request: HttpRequest, session: InfusionSession, model: type[T], object_id: int
) -> T:
    """A row of ``session`` by its own id; another session's row is a 404 (audited)."""
    row = model._default_manager.filter(pk=object_id, session=session).first()
    if row is None:
        raise deny(request, model._meta.model_name or "row", object_id)
    return row
