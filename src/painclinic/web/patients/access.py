"""Every read of a patient's record goes through here: permission check, then the read audit.

``read_for`` is the one helper: it loads a record, checks that the actor may see that record's
patient, and writes the read-audit event; a record that does not exist, or that the actor may
not see, is the same audited 404 (an outsider learns nothing about which records exist).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404

from painclinic.web.accounts.models import STAFF_ROLES, Role
from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.lib.service import Actor
from painclinic.web.patients.models import Consent, Patient


def may_see_patient(user: object, patient: Patient) -> bool:
    role = getattr(user, "role", "")
    if role in STAFF_ROLES:
        return True
    return role == Role.PATIENT and patient.portal_user_id == getattr(user, "pk", None)


def deny(
    actor: Actor, object_type: str, object_id: object, *, category: str = Category.DEMOGRAPHICS
) -> Http404:
    """Audit a refused read and return the 404 to raise (not 403: confirm nothing)."""
    audit(
        actor,
        category=category,
        action=Action.ACCESS_DENIED,
        outcome=Outcome.DENIED,
        detail={"object_type": object_type, "object_id": str(object_id), "path": actor.origin},
    )
    return Http404("No such record")


def _patient_of(record: Any) -> Patient:
    return record if isinstance(record, Patient) else record.patient


def read_for[T: Model](
    actor: Actor,
    source: QuerySet[T] | Callable[[], T | None],
    object_id: object,
    *,
    category: str,
    action: str = Action.VIEW,
    detail: dict[str, Any] | None = None,
    patient_of: Callable[[T], Patient] = _patient_of,
) -> T:
    """The record ``object_id`` from ``source`` if ``actor`` may see its patient, audited.

    ``source`` is a queryset (filtered by primary key here) or a loader that returns the
    record or ``None`` (the chart's one-query joined read).
    """
    if isinstance(source, QuerySet):
        record = source.filter(pk=object_id).first()
        object_type = source.model._meta.model_name or "record"
    else:
        record = source()
        object_type = record._meta.model_name or "record" if record is not None else "record"
    if record is None or not may_see_patient(actor.user, patient_of(record)):
        raise deny(actor, object_type, object_id, category=category)
    patient = patient_of(record)
    audit(actor, category=category, action=action, patient=patient, obj=record, detail=detail)
    return record


def get_patient_for(
    actor: Actor,
    patient_id: int,
    *,
    category: str = Category.DEMOGRAPHICS,
    action: str = Action.VIEW,
    detail: dict | None = None,
) -> Patient:
    return read_for(
        actor,
        Patient.objects.select_related("referring_physician", "family_physician"),
        patient_id,
        category=category,
        action=action,
        detail=detail,
    )


def get_own_patient(actor: Actor) -> Patient:
    """The portal user's own record (a portal page never takes another patient's id)."""
    patient = Patient.objects.filter(portal_user=actor.user).first()
    if patient is None:
        raise deny(actor, "patient", "own")
    return patient


def get_consent_for(actor: Actor, consent_id: int) -> Consent:
    return read_for(
        actor,
        Consent.objects.select_related("patient"),
        consent_id,
        category=Category.CONSENT,
    )
