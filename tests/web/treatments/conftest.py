"""Treatment fixtures: fee schedule, an eligibility decision, a signed consent, a second
physician."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.demo.treatments import load_fee_schedule
from painclinic.web.patients.models import Patient, WeightMeasurement
from painclinic.web.treatments.models import (
    SignatureMethod,
    TreatmentConsent,
)
from painclinic.web.treatments.services import (
    TreatmentConsentInput,
    do_record_treatment_consent,
    estimate_cost,
    protocol_library,
)
from tests.conftest import actor_as, make_user


def request_as(user: User, path: str = "/treatments/"):
    return actor_as(user, path)


def decide_eligibility(
    patient: Patient, drug: str, by: User, *, final: str = "eligible", decision: str = "accept"
):
    from painclinic.web.assessments.models import EligibilityDecision

    return EligibilityDecision.objects.create(
        patient=patient,
        drug=drug,
        condition="crps_1",
        facts={},
        engine_result={"drug": drug, "status": final},
        engine_status=final,
        physician_decision=decision,
        final_status=final,
        override_reason="" if decision == "accept" else "test override",
        decided_by=by,
        decided_at=timezone.now(),
    )


def set_weight(patient: Patient, weight_kg: str, by: User, *, days_ago: int = 0, height="170"):
    return WeightMeasurement.objects.create(
        patient=patient,
        weight_kg=Decimal(weight_kg),
        height_cm=Decimal(height) if height else None,
        measured_on=timezone.localdate() - dt.timedelta(days=days_ago),
        recorded_by=by,
        recorded_at=timezone.now(),
    )


def heavier(patient: Patient, users) -> Patient:
    """Re-weigh the 170-cm woman at 100 kg: 5 mg/kg of lidocaine is 500 mg, 7.69 mg/kg of her
    65 kg ideal body weight, above the 7.5 mg/kg soft limit (a plan that needs a reason)."""
    set_weight(patient, "100.0", users[Role.NURSE])
    return patient


def consent_input(protocol_id: str, sessions: int, witness: User, **overrides):
    """A signed consent as the consent form hands it to the service."""
    drug = protocol_library().get(protocol_id).drug
    values = {
        "protocol_id": protocol_id,
        "sessions": sessions,
        "patient_signed_name": "Ada Lovelace",
        "signature_method": SignatureMethod.TABLET,
        "signature_confirmed": True,
        "witness": witness,
        "signed_at": timezone.now(),
        "shown_total_cents": estimate_cost(drug, protocol_id, sessions).total_cents,
        **overrides,
    }
    return TreatmentConsentInput(**values)


def sign_consent(patient: Patient, protocol_id: str, sessions: int, by: User, witness: User):
    return do_record_treatment_consent(
        request_as(by), patient, consent_input(protocol_id, sessions, witness)
    )


@pytest.fixture
def fees(db):
    load_fee_schedule(actor_as(make_user(Role.CLINIC_ADMIN, "fees-admin")))


@pytest.fixture
def physician2(db) -> User:
    return make_user(Role.PHYSICIAN, "dr_tremblay")


@pytest.fixture
def ready(patient, users, fees):
    """The patient (80 kg, weighed today) is eligible for both drugs and has consented to the
    CRPS outpatient series and the lidocaine 5 mg/kg protocol."""
    physician, nurse = users[Role.PHYSICIAN], users[Role.NURSE]
    decide_eligibility(patient, "ketamine", physician)
    decide_eligibility(patient, "lidocaine", physician)
    sign_consent(patient, "ket-crps-outpatient", 10, physician, nurse)
    sign_consent(patient, "lid-5mgkg-60min", 1, physician, nurse)
    return patient


__all__ = [
    "TreatmentConsent",
    "consent_input",
    "decide_eligibility",
    "heavier",
    "request_as",
    "set_weight",
    "sign_consent",
]
