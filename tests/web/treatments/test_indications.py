"""What the eligibility data encode is enforced at planning: a protocol only for a condition
among its indications, no series for active substance use disorder, and the protocol's own
premedication screened for interactions (issue 11 item 4)."""

from __future__ import annotations

import pytest

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent, Outcome
from painclinic.web.treatments.models import TreatmentPlan
from painclinic.web.treatments.services import (
    TREATMENT_CATEGORY,
    ServiceError,
    do_create_plan,
    preview_plan,
)
from tests.web.treatments.conftest import decide_eligibility, request_as, sign_consent

SUD = {
    "drug": "ketamine",
    "status": "eligible_with_cautions",
    "absolute_contraindications": [],
    "relative_contraindications": [
        {
            "rule_id": "KET-REL-002",
            "category": "relative",
            "message": "Active substance use disorder: no serial infusions; universal "
            "precautions for misuse",
            "detail": "active",
            "sources": ["cohen2018"],
        }
    ],
}


def create(patient, user, protocol_id, sessions):
    preview = preview_plan(patient, protocol_id, sessions)
    return do_create_plan(
        request_as(user),
        patient,
        protocol_id=protocol_id,
        sessions=sessions,
        soft_limit_reason="",
        expected_weight_id=preview.weight.weight.pk,
    )


def refused_events():
    return AuditEvent.objects.filter(category=TREATMENT_CATEGORY, outcome=Outcome.DENIED)


def test_a_protocol_not_indicated_for_the_condition_is_refused_naming_the_field(
    patient, users, fees
):
    physician = users[Role.PHYSICIAN]
    decision = decide_eligibility(patient, "ketamine", physician)
    decision.condition = "fibromyalgia"
    decision.save()
    sign_consent(patient, "ket-crps-outpatient", 10, physician, users[Role.NURSE])
    before = refused_events().count()
    with pytest.raises(ServiceError) as error:
        create(patient, physician, "ket-crps-outpatient", 10)
    assert error.value.field == "protocol_id"
    assert "not indicated for Fibromyalgia" in error.value.message
    assert TreatmentPlan.objects.count() == 0
    assert refused_events().count() == before + 1
    assert refused_events().order_by("-sequence").first().detail["indications"] == [
        "crps_1",
        "crps_2",
    ]


def test_a_protocol_indicated_for_the_condition_is_planned(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    decision = decide_eligibility(patient, "ketamine", physician)
    decision.condition = "fibromyalgia"
    decision.save()
    sign_consent(patient, "ket-single-session-trial", 1, physician, users[Role.NURSE])
    assert preview_plan(patient, "ket-single-session-trial", 1).indication_problems == []
    assert create(patient, physician, "ket-single-session-trial", 1).pk


def _sud_decision(patient, physician):
    decision = decide_eligibility(patient, "ketamine", physician, final="eligible_with_cautions")
    decision.engine_result = SUD
    decision.engine_status = "eligible_with_cautions"
    decision.save()
    return decision


def test_active_substance_use_disorder_blocks_a_series(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    _sud_decision(patient, physician)
    sign_consent(patient, "ket-crps-outpatient", 5, physician, users[Role.NURSE])
    with pytest.raises(ServiceError) as error:
        create(patient, physician, "ket-crps-outpatient", 5)
    assert error.value.field == "sessions" and "No series" in error.value.message
    assert TreatmentPlan.objects.count() == 0


def test_active_substance_use_disorder_allows_a_single_session(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    _sud_decision(patient, physician)
    sign_consent(patient, "ket-single-session-trial", 1, physician, users[Role.NURSE])
    assert create(patient, physician, "ket-single-session-trial", 1).pk


def test_without_the_rule_a_series_is_planned(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    decide_eligibility(patient, "ketamine", physician)
    sign_consent(patient, "ket-crps-outpatient", 5, physician, users[Role.NURSE])
    assert preview_plan(patient, "ket-crps-outpatient", 5).indication_problems == []


def test_the_protocols_own_premedication_is_screened(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    decide_eligibility(patient, "ketamine", physician)
    notes = preview_plan(patient, "ket-crps-outpatient", 10).premedication_notes
    assert any("benzodiazepine" in n.lower() and "midazolam" in n for n in notes)
    assert preview_plan(patient, "ket-single-session-trial", 1).premedication_notes == []
