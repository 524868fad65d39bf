"""Registry state changes: each in one transaction with its audit event."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.lib.service import Actor
from painclinic.web.patients.forms import DEMOGRAPHIC_FIELDS
from painclinic.web.patients.models import Consent, Patient, PatientRevision, WeightMeasurement


class EditConflict(Exception):
    """Someone saved the record after this editor opened it."""

    def __init__(self, current: Patient, their_changes: dict[str, Any]) -> None:
        super().__init__("the record changed while you were editing it")
        self.current = current
        self.their_changes = their_changes


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


def _field_value(name: str, value: Any) -> Any:
    """Empty form input becomes "" for text columns and None for nullable ones."""
    if value is None and not Patient._meta.get_field(name).null:
        return ""
    return value


def latest_weight(patient: Patient) -> WeightMeasurement | None:
    return (
        WeightMeasurement.objects.filter(patient=patient, corrected_by__isnull=True)
        .order_by("-measured_on", "-recorded_at", "-id")
        .first()
    )


def do_register_patient(actor: Actor, data: dict[str, Any]) -> Patient:
    with transaction.atomic():
        patient = Patient(
            **{name: _field_value(name, data.get(name)) for name in DEMOGRAPHIC_FIELDS}
        )
        patient.save()
        audit(
            actor,
            category=Category.DEMOGRAPHICS,
            action=Action.CREATE,
            patient=patient,
            obj=patient,
            detail={"after": demographics_snapshot(patient)},
        )
        if data.get("weight_kg") is not None:
            _add_weight(actor, patient, data)
    return patient


def do_update_patient(
    actor: Actor, patient_id: int, expected_version: int, data: dict[str, Any]
) -> Patient:
    """Save an edit unless the record moved on since ``expected_version`` (then EditConflict).

    The conflict's audit event is written after the edit's transaction has been abandoned, so
    that the refusal itself stays on record."""
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient_id)
        before = demographics_snapshot(patient)
        if patient.version == expected_version:
            return _apply_update(actor, patient, before, data)
        newer = patient.revisions.filter(version__gte=expected_version)
        their_fields = sorted({f for rev in newer for f in rev.changed_fields})
        conflict = EditConflict(patient, {f: before[f] for f in their_fields})
    audit(
        actor,
        category=Category.DEMOGRAPHICS,
        action=Action.UPDATE,
        patient=patient,
        obj=patient,
        outcome=Outcome.CONFLICT,
        detail={"expected_version": expected_version, "current_version": patient.version},
    )
    raise conflict


def _apply_update(
    actor: Actor, patient: Patient, before: dict[str, Any], data: dict[str, Any]
) -> Patient:
    for name in DEMOGRAPHIC_FIELDS:
        if name in data:
            setattr(patient, name, _field_value(name, data[name]))
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
    data: dict[str, Any],
    correction_of: WeightMeasurement | None = None,
) -> WeightMeasurement:
    weight = WeightMeasurement.objects.create(
        patient=patient,
        weight_kg=data["weight_kg"],
        height_cm=data.get("height_cm"),
        measured_on=data["measured_on"],
        recorded_by=actor.user,
        recorded_at=timezone.now(),
        correction_of=correction_of,
        correction_reason=data.get("correction_reason", ""),
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
            "confirmed_large_change": bool(data.get("confirm_weight_change")),
            **(
                {"corrects": correction_of.pk, "reason": weight.correction_reason}
                if correction_of
                else {}
            ),
        },
    )
    return weight


def do_record_weight(actor: Actor, patient: Patient, data: dict[str, Any]) -> WeightMeasurement:
    with transaction.atomic():
        return _add_weight(actor, patient, data)


def do_correct_weight(
    actor: Actor, original: WeightMeasurement, data: dict[str, Any]
) -> WeightMeasurement:
    with transaction.atomic():
        locked = WeightMeasurement.objects.select_for_update().get(pk=original.pk)
        if WeightMeasurement.objects.filter(correction_of=locked).exists():
            raise ValueError("this weight has already been corrected; correct the newer entry")
        return _add_weight(actor, locked.patient, data, correction_of=locked)


def do_record_consent(actor: Actor, patient: Patient, data: dict[str, Any]) -> Consent:
    with transaction.atomic():
        consent = Consent.objects.create(
            patient=patient,
            kind=data["kind"],
            decision=data["decision"],
            decided_on=data["decided_on"],
            document_version=data["document_version"],
            witness_name=data.get("witness_name", ""),
            notes=data.get("notes", ""),
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
    latest: dict[str, Consent] = {}
    for consent in patient.consents.all():
        latest.setdefault(consent.kind, consent)
    return latest
