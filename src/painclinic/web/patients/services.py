"""Registry state changes: each in one transaction with its audit event.

Services take typed entries (``Demographics``, ``WeightEntry``, ``ConsentEntry``), never a
form's ``cleaned_data``: a command or a worker calls them the same way a view does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.service import Actor, Refused, StaleVersion, note_subject, service
from painclinic.web.patients.forms import (
    DEMOGRAPHIC_FIELDS,
    WEIGHT_MAX_KG,
    WEIGHT_MIN_KG,
    weight_plausibility_problem,
)
from painclinic.web.patients.models import (
    Consent,
    ConsentDecision,
    ConsentKind,
    ExternalPhysician,
    Patient,
    PatientRevision,
    WeightMeasurement,
)
from painclinic.web.patients.roles import ROLES


class EditConflict(StaleVersion):
    """Someone saved the record after this editor opened it: nothing was saved.

    ``current`` is the record as it is now; ``their_changes`` maps each field the other person
    changed to its value now (the conflict page shows both).
    """

    def __init__(
        self, current: Patient, their_changes: dict[str, Any], expected_version: int
    ) -> None:
        super().__init__(
            "the record changed while you were editing it",
            obj=current,
            patient=current,
            expected_version=expected_version,
            current_version=current.version,
            changes=sorted(their_changes),
        )
        self.current = current
        self.their_changes = their_changes


@dataclass(frozen=True)
class Demographics:
    """A patient's identifying and contact details, as the registry stores them."""

    legal_given_name: str
    legal_family_name: str
    date_of_birth: dt.date
    sex_at_birth: str
    preferred_name: str = ""
    gender: str = ""
    health_card_number: str = ""
    health_card_version: str = ""
    phone: str = ""
    email: str = ""
    address_line: str = ""
    city: str = ""
    province: str = "ON"
    postal_code: str = ""
    emergency_contact_name: str = ""
    emergency_contact_relationship: str = ""
    emergency_contact_phone: str = ""
    referring_physician: ExternalPhysician | None = None
    family_physician: ExternalPhysician | None = None


@dataclass(frozen=True)
class WeightEntry:
    """A measured weight (kg only) and optional height; a jump beyond the clinic's threshold
    from the last weight is refused unless ``confirmed_large_change`` (pounds typed as kg)."""

    weight_kg: Decimal
    measured_on: dt.date
    height_cm: Decimal | None = None
    confirmed_large_change: bool = False


@dataclass(frozen=True)
class ConsentEntry:
    kind: str
    decision: str
    decided_on: dt.date
    document_version: str
    witness_name: str = ""
    notes: str = ""


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


def demographics_snapshot(patient: Patient) -> dict[str, Any]:
    snapshot = {}
    for name in DEMOGRAPHIC_FIELDS:
        field = Patient._meta.get_field(name)
        snapshot[name] = _plain(getattr(patient, field.attname))  # type: ignore[union-attr]
    return snapshot


def latest_weight(patient: Patient, *, excluding: WeightMeasurement | None = None) -> Any:
    """The newest weight that has not been corrected (optionally other than ``excluding``)."""
    weights = WeightMeasurement.objects.filter(patient=patient, corrected_by__isnull=True)
    if excluding is not None:
        weights = weights.exclude(pk=excluding.pk)
    return weights.order_by("-measured_on", "-recorded_at", "-id").first()


@service(ROLES.register_patient, category=Category.DEMOGRAPHICS, action=Action.CREATE)
def do_register_patient(
    actor: Actor, demographics: Demographics, first_weight: WeightEntry | None = None
) -> Patient:
    with transaction.atomic():
        patient = Patient(**asdict_shallow(demographics))
        patient.save()
        note_subject(patient=patient, obj=patient)
        audit(
            actor,
            category=Category.DEMOGRAPHICS,
            action=Action.CREATE,
            patient=patient,
            obj=patient,
            detail={"after": demographics_snapshot(patient)},
        )
        if first_weight is not None:
            _add_weight(actor, patient, first_weight)
    return patient


@service(ROLES.update_patient, category=Category.DEMOGRAPHICS)
def do_update_patient(
    actor: Actor, patient_id: int, expected_version: int, demographics: Demographics
) -> Patient:
    """Save an edit unless the record moved on since ``expected_version`` (then EditConflict,
    audited by the service contract after this transaction has been abandoned)."""
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient_id)
        note_subject(patient=patient, obj=patient)
        before = demographics_snapshot(patient)
        if patient.version != expected_version:
            newer = patient.revisions.filter(version__gte=expected_version)
            their_fields = sorted({f for rev in newer for f in rev.changed_fields})
            raise EditConflict(patient, {f: before[f] for f in their_fields}, expected_version)
        return _apply_update(actor, patient, before, demographics)


def asdict_shallow(entry: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, leaving model instances as they are (unlike asdict)."""
    return {field.name: getattr(entry, field.name) for field in fields(entry)}


def _apply_update(
    actor: Actor, patient: Patient, before: dict[str, Any], demographics: Demographics
) -> Patient:
    for name, value in asdict_shallow(demographics).items():
        setattr(patient, name, value)
    after = demographics_snapshot(patient)
    changed = [name for name in DEMOGRAPHIC_FIELDS if before[name] != after[name]]
    if not changed:
        return patient
    PatientRevision.objects.create(
        patient=patient,
        version=patient.version,
        snapshot=before,
        changed_fields=changed,
        changed_by=actor.user,
        changed_at=timezone.now(),
    )
    patient.version = F("version") + 1
    patient.save()
    patient.refresh_from_db()
    audit(
        actor,
        category=Category.DEMOGRAPHICS,
        action=Action.UPDATE,
        patient=patient,
        obj=patient,
        detail={
            "before": {f: before[f] for f in changed},
            "after": {f: after[f] for f in changed},
        },
    )
    return patient


def _add_weight(
    actor: Actor,
    patient: Patient,
    entry: WeightEntry,
    correction_of: WeightMeasurement | None = None,
    reason: str = "",
) -> WeightMeasurement:
    if not WEIGHT_MIN_KG <= entry.weight_kg <= WEIGHT_MAX_KG:
        raise Refused(
            f"Weight must be between {WEIGHT_MIN_KG} and {WEIGHT_MAX_KG} kg (kilograms only).",
            "weight_kg",
        )
    if not entry.confirmed_large_change:
        last = latest_weight(patient, excluding=correction_of)
        problem = weight_plausibility_problem(
            entry.weight_kg,
            last.weight_kg if last else None,
            settings.WEIGHT_CHANGE_CONFIRM_PERCENT,
        )
        if problem:
            raise Refused(problem, "weight_kg")
    weight = WeightMeasurement.objects.create(
        patient=patient,
        weight_kg=entry.weight_kg,
        height_cm=entry.height_cm,
        measured_on=entry.measured_on,
        recorded_by=actor.user,
        recorded_at=timezone.now(),
        correction_of=correction_of,
        correction_reason=reason,
    )
    audit(
        actor,
        category=Category.WEIGHT,
        action=Action.AMEND if correction_of else Action.CREATE,
        patient=patient,
        obj=weight,
        detail={
            "weight_kg": str(weight.weight_kg),
            "height_cm": _plain(weight.height_cm),
            "measured_on": weight.measured_on.isoformat(),
            "confirmed_large_change": entry.confirmed_large_change,
            **({"corrects": correction_of.pk, "reason": reason} if correction_of else {}),
        },
    )
    return weight


@service(ROLES.record_weight, category=Category.WEIGHT, action=Action.CREATE)
def do_record_weight(actor: Actor, patient: Patient, entry: WeightEntry) -> WeightMeasurement:
    note_subject(patient=patient, obj=patient)
    with transaction.atomic():
        return _add_weight(actor, patient, entry)


@service(ROLES.correct_weight, category=Category.WEIGHT, action=Action.AMEND)
def do_correct_weight(
    actor: Actor, original: WeightMeasurement, entry: WeightEntry, reason: str
) -> WeightMeasurement:
    """Record the right weight in place of ``original``, which stays readable, struck through."""
    note_subject(patient=original.patient, obj=original)
    if not reason.strip():
        raise Refused("Say why the original is wrong.", "correction_reason")
    with transaction.atomic():
        locked = WeightMeasurement.objects.select_for_update().get(pk=original.pk)
        if WeightMeasurement.objects.filter(correction_of=locked).exists():
            raise Refused("This weight has already been corrected; correct the newer entry.")
        return _add_weight(actor, locked.patient, entry, correction_of=locked, reason=reason)


@service(ROLES.record_consent, category=Category.CONSENT, action=Action.CREATE)
def do_record_consent(actor: Actor, patient: Patient, entry: ConsentEntry) -> Consent:
    note_subject(patient=patient, obj=patient)
    if (
        entry.kind == ConsentKind.TREATMENT
        and entry.decision == ConsentDecision.GRANTED
        and not entry.witness_name.strip()
    ):
        raise Refused("Treatment consent needs a witness.", "witness_name")
    with transaction.atomic():
        consent = Consent.objects.create(
            patient=patient,
            kind=entry.kind,
            decision=entry.decision,
            decided_on=entry.decided_on,
            document_version=entry.document_version,
            witness_name=entry.witness_name,
            notes=entry.notes,
            recorded_by=actor.user,
            recorded_at=timezone.now(),
        )
        audit(
            actor,
            category=Category.CONSENT,
            action=Action.CREATE,
            patient=patient,
            obj=consent,
            detail={
                "kind": consent.kind,
                "decision": consent.decision,
                "decided_on": consent.decided_on.isoformat(),
                "document_version": consent.document_version,
                "witness_name": consent.witness_name,
            },
        )
    return consent


def current_consents(patient: Patient) -> dict[str, Consent]:
    """The latest decision of each kind."""
    return latest_of_each_kind(patient.consents.all())


def latest_of_each_kind(consents: Iterable[Consent]) -> dict[str, Consent]:
    """The first consent of each kind in ``consents`` (newest first, the model's ordering)."""
    latest: dict[str, Consent] = {}
    for consent in consents:
        latest.setdefault(consent.kind, consent)
    return latest
