"""Plan rules: weight age, limits, reason, co-signature, eligibility and consent, doses."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent, Outcome
from painclinic.web.lib.service import HardLimitRefused
from painclinic.web.patients.models import WeightMeasurement
from painclinic.web.treatments.models import PlannedSession, PlanStatus, TreatmentPlan
from painclinic.web.treatments.services import (
    TREATMENT_CATEGORY,
    PlanConflict,
    ServiceError,
    do_cancel_plan,
    do_cosign_plan,
    do_create_plan,
    do_withdraw_treatment_consent,
    preview_plan,
)
from tests.conftest import logged_in_client, make_patient
from tests.web.treatments.conftest import (
    decide_eligibility,
    heavier,
    request_as,
    set_weight,
    sign_consent,
)

TORONTO = ZoneInfo("America/Toronto")


def create(patient, user, protocol_id, *, reason="", sessions=None, weight_id=None):
    preview = preview_plan(patient, protocol_id, sessions)
    return do_create_plan(
        request_as(user),
        patient,
        protocol_id=protocol_id,
        sessions=sessions or preview.protocol.sessions,
        soft_limit_reason=reason,
        expected_weight_id=weight_id
        if weight_id is not None
        else (preview.weight.weight.pk if preview.weight.weight else None),
    )


def plan_events():
    return AuditEvent.objects.filter(category=TREATMENT_CATEGORY, object_type="treatmentplan")


# --- doses --------------------------------------------------------------------------------------


def test_within_limits_plan_is_active_with_doses_equal_to_plain_arithmetic(ready, users):
    plan = create(ready, users[Role.PHYSICIAN], "ket-crps-outpatient")
    assert plan.status == PlanStatus.ACTIVE and plan.limit_status == "within"
    sessions = list(plan.sessions.all())
    assert len(sessions) == 10
    assert [s.day_offset for s in sessions] == list(range(10))
    step = sessions[0].steps[0]
    # 0.35 mg/kg/h x 80 kg = 28 mg/h, capped at 25 mg/h by the protocol; 1 mg/mL bag.
    expected_rate_mg_per_h = min(0.35 * 80, 25)
    assert step["rate_mg_per_h"] == pytest.approx(expected_rate_mg_per_h)
    assert step["rate_ml_per_h"] == pytest.approx(expected_rate_mg_per_h / 1)
    assert step["concentration_mg_per_ml"] == 1
    assert step["total_mg"] == pytest.approx(25 * 4)
    assert sessions[0].total_mg == 100 and sessions[0].duration_min == 240
    assert set(step) >= {
        "label",
        "start_min",
        "duration_min",
        "rate_mg_per_h",
        "rate_ml_per_h",
        "concentration_mg_per_ml",
        "total_mg",
    }
    event = plan_events().get(action="create")
    assert event.detail["status"] == "active" and event.detail["weight_kg"] == "80.0"


def test_standard_lidocaine_plan_is_within_limits_and_active_without_a_reason(ready, users):
    """5 mg/kg over 60 min (issue 11): no soft limit, so no co-signature to wave through."""
    plan = create(ready, users[Role.PHYSICIAN], "lid-5mgkg-60min")
    assert plan.status == PlanStatus.ACTIVE and plan.limit_status == "within"
    step = plan.sessions.get().steps[0]
    # 5 mg/kg x 80 kg = 400 mg over 60 min = 400 mg/h; 4 mg/mL bag -> 100 mL/h.
    assert step["rate_mg_per_h"] == pytest.approx(400)
    assert step["rate_ml_per_h"] == pytest.approx(100)
    assert step["total_mg"] == pytest.approx(400)
    event = plan_events().get(action="create")
    assert event.detail["soft_limits"] == [] and event.detail["limit_status"] == "within"


def _lidocaine_patient(users, weight_kg: str, height_cm: str):
    physician = users[Role.PHYSICIAN]
    person = make_patient("Heavy", "Set")  # female at birth
    set_weight(person, weight_kg, users[Role.NURSE], height=height_cm)
    decide_eligibility(person, "lidocaine", physician)
    sign_consent(person, "lid-5mgkg-60min", 1, physician, users[Role.NURSE])
    return person


def test_lidocaine_per_kg_of_ideal_weight_at_75_mg_per_kg_is_within(patient, users, fees):
    # 165 cm woman: IBW 60 kg; 90 kg x 5 mg/kg = 450 mg = 7.5 mg/kg of IBW, the soft limit.
    person = _lidocaine_patient(users, "90.0", "165")
    plan = create(person, users[Role.PHYSICIAN], "lid-5mgkg-60min")
    assert plan.limit_status == "within" and plan.status == PlanStatus.ACTIVE


def test_lidocaine_above_75_mg_per_kg_of_ideal_weight_is_soft_and_needs_a_reason(
    patient, users, fees
):
    # 92 kg x 5 mg/kg = 460 mg = 7.67 mg/kg of the 60 kg IBW (lower than the actual weight).
    person = _lidocaine_patient(users, "92.0", "165")
    before = plan_events().count()
    with pytest.raises(ServiceError) as error:
        create(person, users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="   ")
    assert error.value.field == "soft_limit_reason"
    assert TreatmentPlan.objects.count() == 0 and PlannedSession.objects.count() == 0
    assert plan_events().count() == before

    plan = create(person, users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="Refractory PHN")
    assert plan.status == PlanStatus.AWAITING_COSIGN and plan.limit_status == "soft_limit"
    event = plan_events().get(action="create")
    assert event.detail["soft_limit_reason"] == "Refractory PHN"
    (breach,) = event.detail["soft_limits"]
    assert breach["quantity"] == "session total per kg (mg/kg)"
    assert breach["value"].startswith("7.67 mg/kg of 60 kg (lower of actual and ideal")
    assert breach["step"] == "session 1 whole session" and "RCH" in breach["source"]


def test_lidocaine_beyond_the_hard_per_kg_limit_is_refused_and_audited(patient, users, fees):
    # 120 kg, 160 cm woman: 5 mg/kg = 600 mg, capped at 500 mg by the protocol; IBW 55 kg:
    # 9.09 mg/kg, under the 10 mg/kg hard limit (soft). At 150 cm (IBW 45 kg): 11.1 mg/kg.
    person = _lidocaine_patient(users, "120.0", "150")
    before = AuditEvent.objects.count()
    with pytest.raises(HardLimitRefused) as error:
        create(person, users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="a reason lifts nothing")
    message = error.value.message
    assert "session total per kg (mg/kg) 11.1 mg/kg of 45 kg" in message
    assert "hard limit 10 mg/kg" in message and "Nothing was saved" in message
    assert TreatmentPlan.objects.count() == 0
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == Outcome.DENIED
    assert event.detail["session_total_mg_per_kg"] == pytest.approx(500 / 45)
    assert event.detail["limit"] == 10 and event.detail["step"] == "whole session"


def test_an_inpatient_protocol_is_offered_only_to_a_clinic_with_inpatients(ready, users, settings):
    from painclinic.web.treatments.services import protocol_choices

    settings.INPATIENT_SERVICE = False
    assert "ket-continuous-titration" not in dict(protocol_choices())
    sign_consent(ready, "ket-continuous-titration", 1, users[Role.PHYSICIAN], users[Role.NURSE])
    with pytest.raises(ServiceError, match="inpatient protocol"):
        create(ready, users[Role.PHYSICIAN], "ket-continuous-titration", reason="CRPS")
    settings.INPATIENT_SERVICE = True
    assert "ket-continuous-titration" in dict(protocol_choices())


def test_hard_limit_is_refused_with_limit_value_and_source_and_nothing_saved(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    small = make_patient("Tiny", "Person")
    set_weight(small, "45.0", users[Role.NURSE], height="170")
    decide_eligibility(small, "lidocaine", physician)
    sign_consent(small, "lid-1.5mgkg-ibw", 1, physician, users[Role.NURSE])
    before = AuditEvent.objects.count()
    with pytest.raises(HardLimitRefused) as error:
        create(small, physician, "lid-1.5mgkg-ibw")
    message = error.value.message
    assert "bolus per kg (mg/kg) 2.17 mg/kg" in message and "hard limit 1.5 mg/kg" in message
    assert "Foo 2021" in message and "Nothing was saved" in message
    assert TreatmentPlan.objects.count() == 0 and PlannedSession.objects.count() == 0
    # Only the refusal itself is on record.
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.order_by("-sequence").first().outcome == Outcome.DENIED


# --- weight -------------------------------------------------------------------------------------


def _patient_weighed_on(users, measured_on: dt.date):
    physician = users[Role.PHYSICIAN]
    person = make_patient("Weigh", "Ed")
    WeightMeasurement.objects.create(
        patient=person,
        weight_kg="70.0",
        height_cm="170",
        measured_on=measured_on,
        recorded_by=users[Role.NURSE],
        recorded_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    )
    decide_eligibility(person, "ketamine", physician)
    sign_consent(person, "ket-crps-outpatient", 10, physician, users[Role.NURSE])
    return person


# 23:30 in Toronto on 15 March is already 16 March in UTC: days count in the clinic's zone.
LATE_EVENING = dt.datetime(2026, 3, 15, 23, 30, tzinfo=TORONTO)


@time_machine.travel(LATE_EVENING, tick=False)
def test_a_weight_30_clinic_days_old_passes(users, fees):
    person = _patient_weighed_on(users, dt.date(2026, 2, 13))
    preview = preview_plan(person, "ket-crps-outpatient")
    assert preview.weight.age_days == 30 and preview.weight.problem is None
    assert create(person, users[Role.PHYSICIAN], "ket-crps-outpatient").status == "active"


@time_machine.travel(LATE_EVENING, tick=False)
def test_a_weight_31_clinic_days_old_blocks_the_plan(users, fees):
    person = _patient_weighed_on(users, dt.date(2026, 2, 12))
    preview = preview_plan(person, "ket-crps-outpatient")
    assert preview.weight.age_days == 31
    assert "Re-weigh" in preview.weight.problem and preview.plan is None
    with pytest.raises(ServiceError, match="31 days old"):
        create(person, users[Role.PHYSICIAN], "ket-crps-outpatient")
    assert TreatmentPlan.objects.count() == 0


def test_the_weight_age_limit_is_a_setting(users, fees, settings):
    settings.PLAN_WEIGHT_MAX_AGE_DAYS = 7
    person = _patient_weighed_on(users, dt.date.today() - dt.timedelta(days=8))
    assert "limit is 7 days" in preview_plan(person, "ket-crps-outpatient").weight.problem


def test_no_weight_blocks(users, fees):
    person = make_patient("No", "Weight")
    preview = preview_plan(person, "ket-crps-outpatient")
    assert preview.weight.problem.startswith("No weight recorded")
    with pytest.raises(ServiceError, match="No weight recorded"):
        create(person, users[Role.PHYSICIAN], "ket-crps-outpatient")


def test_a_weight_recorded_after_the_preview_refuses_the_save(ready, users):
    preview = preview_plan(ready, "ket-crps-outpatient")
    set_weight(ready, "95.0", users[Role.NURSE])
    with pytest.raises(ServiceError, match="weight changed"):
        create(
            ready, users[Role.PHYSICIAN], "ket-crps-outpatient", weight_id=preview.weight.weight.pk
        )
    assert TreatmentPlan.objects.count() == 0


# --- eligibility and consent --------------------------------------------------------------------


def test_no_eligibility_decision_blocks(patient, users, fees):
    sign_consent(patient, "ket-crps-outpatient", 10, users[Role.PHYSICIAN], users[Role.NURSE])
    with pytest.raises(ServiceError, match="No physician has decided"):
        create(patient, users[Role.PHYSICIAN], "ket-crps-outpatient")


def test_not_eligible_blocks_and_an_override_to_eligible_passes(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    sign_consent(patient, "ket-crps-outpatient", 10, physician, users[Role.NURSE])
    decide_eligibility(patient, "ketamine", physician, final="not_eligible")
    with pytest.raises(ServiceError, match="not eligible"):
        create(patient, physician, "ket-crps-outpatient")
    decide_eligibility(
        patient, "ketamine", physician, final="eligible_with_cautions", decision="override"
    )
    plan = create(patient, physician, "ket-crps-outpatient")
    assert plan.eligibility["physician_decision"] == "override"


def test_eligibility_for_the_other_drug_does_not_count(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    decide_eligibility(patient, "lidocaine", physician)
    sign_consent(patient, "ket-crps-outpatient", 10, physician, users[Role.NURSE])
    with pytest.raises(ServiceError, match="eligibility for ketamine"):
        create(patient, physician, "ket-crps-outpatient")


def test_no_consent_for_the_protocol_blocks(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    decide_eligibility(patient, "ketamine", physician)
    sign_consent(patient, "ket-single-session-trial", 1, physician, users[Role.NURSE])
    with pytest.raises(ServiceError, match="No signed treatment consent"):
        create(patient, physician, "ket-crps-outpatient")


def test_withdrawing_consent_cancels_usable_plans(ready, users):
    physician = users[Role.PHYSICIAN]
    plan = create(heavier(ready, users), physician, "lid-5mgkg-60min", reason="Refractory PHN")
    do_withdraw_treatment_consent(request_as(physician), plan.consent, "Patient changed mind")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED and "consent withdrawn" in plan.cancelled_reason
    with pytest.raises(ServiceError, match="No signed treatment consent"):
        create(ready, physician, "lid-5mgkg-60min", reason="again")


# --- co-signature -------------------------------------------------------------------------------


def test_prescriber_cannot_cosign_own_plan(ready, users):
    physician = users[Role.PHYSICIAN]
    plan = create(heavier(ready, users), physician, "lid-5mgkg-60min", reason="Refractory PHN")
    with pytest.raises(ServiceError, match="second physician"):
        do_cosign_plan(request_as(physician), plan.pk, plan.version)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.AWAITING_COSIGN and plan.cosigned_by is None


def test_a_nurse_cannot_cosign_in_the_service(ready, users):
    plan = create(
        heavier(ready, users), users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="Refractory PHN"
    )
    with pytest.raises(PermissionDenied, match="nurse may not cosign plan"):
        do_cosign_plan(request_as(users[Role.NURSE]), plan.pk, plan.version)


def test_a_nurse_gets_403_on_the_cosign_page(ready, users, client_for):
    plan = create(
        heavier(ready, users), users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="Refractory PHN"
    )
    url = reverse("treatments:plan_cosign", kwargs={"plan_id": plan.pk})
    nurse = client_for(Role.NURSE)
    assert nurse.get(url).status_code == 403
    assert nurse.post(url, {"expected_version": 1, "confirm": "on"}).status_code == 403
    plan.refresh_from_db()
    assert plan.status == PlanStatus.AWAITING_COSIGN


def test_second_physician_cosigns_and_it_is_audited(ready, users, physician2):
    plan = create(
        heavier(ready, users), users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="Refractory PHN"
    )
    do_cosign_plan(request_as(physician2), plan.pk, plan.version, "Agreed; ECG reviewed")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE and plan.cosigned_by == physician2
    assert plan.version == 2 and plan.cosign_note == "Agreed; ECG reviewed"
    event = plan_events().filter(action="update").order_by("-sequence").first()
    assert event.actor == physician2
    assert event.detail["event"] == "cosign"
    assert event.detail["before"] == {"status": "awaiting_cosign"}
    assert event.detail["after"] == {"status": "active"}
    assert event.detail["soft_limit_reason"] == "Refractory PHN"


def test_a_within_limits_plan_has_nothing_to_cosign(ready, users, physician2):
    plan = create(ready, users[Role.PHYSICIAN], "ket-crps-outpatient")
    with pytest.raises(ServiceError, match="nothing to co-sign"):
        do_cosign_plan(request_as(physician2), plan.pk, plan.version)


def test_cosign_rechecks_eligibility(ready, users, physician2):
    plan = create(
        heavier(ready, users), users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="Refractory PHN"
    )
    decide_eligibility(ready, "lidocaine", users[Role.PHYSICIAN], final="not_eligible")
    with pytest.raises(ServiceError, match="not eligible"):
        do_cosign_plan(request_as(physician2), plan.pk, plan.version)


def test_stale_cosign_is_a_conflict_shown_as_409(ready, users, physician2, client_for):
    plan = create(
        heavier(ready, users), users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="Refractory PHN"
    )
    do_cancel_plan(request_as(users[Role.PHYSICIAN]), plan.pk, 1, "wrong protocol")
    with pytest.raises(PlanConflict):
        do_cosign_plan(request_as(physician2), plan.pk, 1)
    client = logged_in_client(physician2)
    url = reverse("treatments:plan_cosign", kwargs={"plan_id": plan.pk})
    response = client.post(url, {"expected_version": 1, "confirm": "on"})
    assert response.status_code == 409
    assert b"changed while you were reviewing" in response.content
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED and plan.cosigned_by is None


def test_cancel_needs_a_reason_and_keeps_the_plan(ready, users):
    physician = users[Role.PHYSICIAN]
    plan = create(ready, physician, "ket-crps-outpatient")
    with pytest.raises(ServiceError):
        do_cancel_plan(request_as(physician), plan.pk, plan.version, "  ")
    do_cancel_plan(request_as(physician), plan.pk, plan.version, "switching to lidocaine")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED and plan.sessions.count() == 10


# --- pages --------------------------------------------------------------------------------------

ISMP = re.compile(r"\b\d[\d,]*(\.\d+)? (mg/kg/h|mg/h|mL/h|mg/mL|mg)\b")


def test_plan_page_shows_ismp_doses_bag_and_charts(ready, users, client_for):
    plan = create(ready, users[Role.PHYSICIAN], "ket-crps-outpatient")
    response = client_for(Role.NURSE).get(reverse("treatments:plan", kwargs={"plan_id": plan.pk}))
    html = response.content.decode()
    assert response.status_code == 200
    for text in ("0.313 mg/kg/h", "25 mg/h", "25 mL/h", "100 mg", "1 mg/mL"):
        assert text in html, text
    for match in ISMP.finditer(html):
        number = match.group(0).split()[0]
        assert not re.search(r"\.\d*0$", number) and not number.startswith("."), number
    assert "data:image/svg+xml;base64," in html
    assert "Predicted CRPS pain relief" in html and "Dahan" in html
    assert "Weigh" not in html or "80 kg" in html


def test_hard_limit_page_shows_limit_and_saves_nothing(users, client_for, fees):
    physician = users[Role.PHYSICIAN]
    small = make_patient("Tiny", "Person")
    weight = set_weight(small, "45.0", users[Role.NURSE], height="170")
    decide_eligibility(small, "lidocaine", physician)
    sign_consent(small, "lid-1.5mgkg-ibw", 1, physician, users[Role.NURSE])
    client = client_for(Role.PHYSICIAN)
    url = reverse("treatments:plan_new", kwargs={"patient_id": small.pk})
    page = client.get(url, {"protocol_id": "lid-1.5mgkg-ibw"}).content.decode()
    assert "HARD limit" in page and "bolus per kg" in page and "Foo 2021" in page
    before = plan_events().filter(action="create").count()
    response = client.post(
        url,
        {"protocol_id": "lid-1.5mgkg-ibw", "sessions": "1", "expected_weight_id": weight.pk},
    )
    assert response.status_code == 200 and b"Refused" in response.content
    assert TreatmentPlan.objects.count() == 0
    assert plan_events().filter(action="create").count() == before


def test_old_weight_page_links_to_the_weight_form(users, client_for, fees):
    person = _patient_weighed_on(users, dt.date.today() - dt.timedelta(days=40))
    page = client_for(Role.PHYSICIAN).get(
        reverse("treatments:plan_new", kwargs={"patient_id": person.pk}),
        {"protocol_id": "ket-crps-outpatient"},
    )
    html = page.content.decode()
    assert "Re-weigh the patient" in html
    assert reverse("patients:weight_add", kwargs={"patient_id": person.pk}) in html


def test_a_cancelled_plan_cannot_be_cancelled_again(ready, users):
    physician = users[Role.PHYSICIAN]
    plan = create(ready, physician, "ket-crps-outpatient")
    do_cancel_plan(request_as(physician), plan.pk, plan.version, "duplicate")
    plan.refresh_from_db()
    with pytest.raises(ServiceError, match="already cancelled"):
        do_cancel_plan(request_as(physician), plan.pk, plan.version, "again")


def test_a_nurse_cannot_prescribe_in_the_service(ready, users):
    with pytest.raises(PermissionDenied, match="nurse may not create plan"):
        create(ready, users[Role.NURSE], "ket-crps-outpatient")
    assert TreatmentPlan.objects.count() == 0


def test_an_ideal_body_weight_protocol_needs_sex_at_birth(users, fees):
    physician = users[Role.PHYSICIAN]
    person = make_patient("Sam", "Unknown", sex_at_birth="unknown")
    set_weight(person, "80.0", users[Role.NURSE], height="175")
    decide_eligibility(person, "lidocaine", physician)
    sign_consent(person, "lid-1.5mgkg-ibw", 1, physician, users[Role.NURSE])
    preview = preview_plan(person, "lid-1.5mgkg-ibw")
    assert preview.plan is None and "sex" in preview.input_error
    with pytest.raises(ServiceError, match="cannot be calculated"):
        create(person, physician, "lid-1.5mgkg-ibw")


def test_continuous_titration_reaching_40_mg_per_h_is_a_soft_limit(ready, users, settings):
    settings.INPATIENT_SERVICE = True  # an inpatient-only protocol
    physician = users[Role.PHYSICIAN]
    sign_consent(ready, "ket-continuous-titration", 1, physician, users[Role.NURSE])
    plan = create(ready, physician, "ket-continuous-titration", reason="Inpatient CRPS protocol")
    assert plan.status == PlanStatus.AWAITING_COSIGN
    steps = plan.sessions.get().steps
    assert [s["rate_mg_per_h"] for s in steps[:4]] == [10, 20, 30, 40]
    assert sum(s["duration_min"] for s in steps) == 120 * 60
    assert plan.sessions.get().total_mg == 10 + 20 + 30 + 40 * 117


def test_a_stored_script_in_the_reason_renders_escaped(ready, users, client_for):
    payload = "<script>alert('x')</script>"
    plan = create(heavier(ready, users), users[Role.PHYSICIAN], "lid-5mgkg-60min", reason=payload)
    html = (
        client_for(Role.NURSE)
        .get(reverse("treatments:plan", kwargs={"plan_id": plan.pk}))
        .content.decode()
    )
    assert payload not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_an_ideal_body_weight_plan_shows_per_kg_rates_on_the_ideal_weight(ready, users, client_for):
    physician = users[Role.PHYSICIAN]
    sign_consent(ready, "lid-1.5mgkg-ibw", 1, physician, users[Role.NURSE])
    plan = create(ready, physician, "lid-1.5mgkg-ibw", reason="Perioperative-style regimen")
    # 170 cm woman: IBW = 170 - 105 = 65 kg; 1.5 mg/kg x 65 kg = 97.5 mg over 10 min and
    # 1.5 mg/kg/h x 65 kg = 97.5 mg/h (4 mg/mL bag: 24.375 -> 24.4 mL/h).
    assert float(plan.dosing_weight_kg) == 65.0
    first, second = plan.sessions.get().steps
    assert first["dose_value"] == pytest.approx(97.5) and first["dose_unit"] == "mg"
    assert second["rate_ml_per_h"] == pytest.approx(24.4)
    html = (
        client_for(Role.NURSE)
        .get(reverse("treatments:plan", kwargs={"plan_id": plan.pk}))
        .content.decode()
    )
    assert "(ideal body weight)" in html and "97.5 mg" in html
    assert "1.5 mg/kg/h" in html  # 97.6 mg/h delivered / 65 kg, three significant digits
