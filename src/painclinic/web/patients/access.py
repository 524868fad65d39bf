"""Every read of a patient goes through here: permission check, then the read-audit event."""

from __future__ import annotations

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


def _deny(actor: Actor, object_type: str, object_id: object) -> Http404:
    audit(
        actor,
        category=Category.DEMOGRAPHICS,
        action=Action.ACCESS_DENIED,
        outcome=Outcome.DENIED,
        detail={"object_type": object_type, "object_id": str(object_id), "path": actor.origin},
    )
    # 404, not 403: do not confirm to an outsider that the record exists.
    return Http404("No such record")


def get_patient_for(
    actor: Actor,
    patient_id: int,
    *,
    category: str = Category.DEMOGRAPHICS,
    action: str = Action.VIEW,
    detail: dict | None = None,
) -> Patient:
    patient = (
        Patient.objects.select_related("referring_physician", "family_physician")
        .filter(pk=patient_id)
        .first()
    )
    if patient is None or not may_see_patient(actor.user, patient):
        raise _deny(actor, "patient", patient_id)
    audit(actor, category=category, action=action, patient=patient, obj=patient, detail=detail)
    return patient


def get_own_patient(actor: Actor) -> Patient:
    """The portal user's own record (a portal page never takes another patient's id)."""
    patient = Patient.objects.filter(portal_user=actor.user).first()
    if patient is None:
        raise _deny(actor, "patient", "own")
    return patient


def get_consent_for(actor: Actor, consent_id: int) -> Consent:
    consent = Consent.objects.select_related("patient").filter(pk=consent_id).first()
    if consent is None or not may_see_patient(actor.user, consent.patient):
        raise _deny(actor, "consent", consent_id)
    audit(
        actor,
        category=Category.CONSENT,
        action=Action.VIEW,
        patient=consent.patient,
        obj=consent,
    )
    return consent
