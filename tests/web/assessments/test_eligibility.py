"""The eligibility page: facts from the record and the form, the engine's reasons, the
physician's accept/override, and the missing-information checklist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.assessments import services
from painclinic.web.assessments.models import ChecklistItem, EligibilityDecision
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from painclinic.web.patients.models import WeightMeasurement
from tests.conftest import make_patient
from tests.web.assessments.conftest import budapest_met, clean_entry

P, N = Role.PHYSICIAN, Role.NURSE


def url(patient) -> str:
    return reverse("assessments:eligibility", kwargs={"patient_id": patient.pk})


def facts_post(**overrides: str | list[str]) -> dict[str, str | list[str]]:
    """A clean facts form for a CRPS patient who has tried every first-line option."""
    data: dict[str, str | list[str]] = {
        "condition": "crps_1",
        "current_medications": "",
        "systolic_bp_mmhg": "124",
        "diastolic_bp_mmhg": "78",
        "heart_rate_bpm": "70",
        "respiratory_rate_per_min": "14",
        "spo2_percent": "98",
        "pregnancy": "not_applicable",
        "ecg_on_file": "yes",
        "liver_tests_on_file": "on",
        "prior-TOTAL_FORMS": "4",
        "prior-INITIAL_FORMS": "0",
        "prior-MIN_NUM_FORMS": "0",
        "prior-MAX_NUM_FORMS": "30",
        "prior-0-treatment": "physical_therapy",
        "prior-0-duration_weeks": "12",
        "prior-0-outcome": "no_relief",
        "prior-1-treatment": "gabapentin",
        "prior-1-max_daily_dose_mg": "1800",
        "prior-1-duration_weeks": "8",
        "prior-1-outcome": "no_relief",
        "prior-2-treatment": "alendronate",
        "prior-2-duration_weeks": "8",
        "prior-2-outcome": "no_relief",
    }
    data.update(overrides)
    return data


def record(**decision: str) -> dict[str, str]:
    return {"action": "record", **decision}


@pytest.fixture
def met(patient, request_as):
    return services.do_record_assessment(request_as(), patient, "budapest", budapest_met())


def test_the_page_shows_what_the_record_holds(patient, met, client_for):
    response = client_for(P).get(url(patient))
    assert response.status_code == 200
    recorded = response.context["recorded"]
    assert recorded.criteria_assessment == met
    assert recorded.weight.weight_kg == Decimal("80.0")
    assert response.context["engine"] is None
    page = response.content.decode()
    assert "80 kg" in page and "BUDAPEST" in page


def test_evaluate_shows_both_drugs_with_rule_ids_and_citations_and_saves_nothing(
    patient, met, client_for
):
    client = client_for(P)
    before = AuditEvent.objects.filter(action=Action.CREATE).count()
    response = client.post(url(patient), {**facts_post(), "action": "evaluate"})
    assert response.status_code == 200
    engine = response.context["engine"]
    assert engine["ketamine"]["status"] == "eligible"
    assert engine["lidocaine"]["status"] == "eligible_with_cautions"
    page = response.content.decode()
    assert "status-eligible_with_cautions" in page and "LID-STEP-002" in page
    assert "Cohen SP et al." in page  # the citation behind LID-STEP-002
    assert "Stepped-care gaps" in page
    assert EligibilityDecision.objects.count() == 0
    assert AuditEvent.objects.filter(action=Action.CREATE).count() == before


def test_facts_are_built_from_the_record_and_the_form(patient, met, client_for):
    response = client_for(P).post(url(patient), {**facts_post(), "action": "evaluate"})
    facts = response.context["facts_json"]
    assert facts["diagnosis"] == {
        "condition": "crps_1",
        "criteria": {"instrument": "budapest", "met": True},
        "clinician_confirmed": None,
        "findings": {},
    }
    assert facts["weight_kg"] == 80.0
    assert facts["age_years"] == services.age_in_years(patient.date_of_birth, timezone.localdate())
    assert facts["ecg"] == dict.fromkeys(
        ("conduction_block", "atrial_fibrillation", "qrs_widening", "pr_prolongation"), False
    )
    assert [t["treatment"] for t in facts["prior_treatments"]] == [
        "physical_therapy",
        "gabapentin",
        "alendronate",
    ]


def test_without_criteria_on_file_the_diagnosis_is_missing_information(patient, client_for):
    response = client_for(P).post(url(patient), {**facts_post(), "action": "evaluate"})
    missing = [r["rule_id"] for r in response.context["engine"]["ketamine"]["missing_information"]]
    assert "KET-MISS-004" in missing


def test_criteria_not_met_is_an_absolute_contraindication(patient, request_as, client_for):
    answers = budapest_met()
    answers["disproportionate_pain"] = False
    services.do_record_assessment(request_as(), patient, "budapest", answers)
    response = client_for(P).post(url(patient), {**facts_post(), "action": "evaluate"})
    ketamine = response.context["engine"]["ketamine"]
    assert ketamine["status"] == "not_eligible"
    assert [r["rule_id"] for r in ketamine["absolute_contraindications"]] == ["KET-DX-001"]
    assert "Absolute contraindications" in response.content.decode()


def test_a_self_harm_phq9_on_file_sets_the_fact(patient, met, request_as, client_for):
    services.do_record_assessment(request_as(), patient, "phq9", {"items": [0] * 8 + [1]})
    response = client_for(P).post(url(patient), {**facts_post(), "action": "evaluate"})
    assert response.context["facts_json"]["psychiatric"]["self_harm_risk"] is True
    relative = response.context["engine"]["ketamine"]["relative_contraindications"]
    assert "KET-REL-005" in [r["rule_id"] for r in relative]


def test_without_a_phq9_flag_the_self_harm_fact_follows_the_form(patient, met, client_for):
    services_result = client_for(P).post(url(patient), {**facts_post(), "action": "evaluate"})
    assert services_result.context["facts_json"]["psychiatric"]["self_harm_risk"] is False


def test_accepting_records_the_decision_and_the_checklist(users, patient, met, client_for):
    client = client_for(P)
    data = {
        **facts_post(pregnancy="unknown"),
        **record(ketamine_decision="accept", ketamine_seen_status="eligible_with_cautions"),
    }
    response = client.post(url(patient), data)
    assert response.status_code == 302
    decision = EligibilityDecision.objects.get()
    assert decision.drug == "ketamine" and decision.physician_decision == "accept"
    assert decision.engine_status == decision.final_status == "eligible_with_cautions"
    assert decision.decided_by == users[P] and decision.criteria_assessment == met
    assert decision.facts["pregnancy"] == "unknown"
    assert decision.policy_versions["eligibility_rules"]
    assert "KET-MISS-003" in [r["rule_id"] for r in decision.engine_result["missing_information"]]
    item = ChecklistItem.objects.get()
    assert item.rule_id == "KET-MISS-003" and item.patient == patient and item.is_open
    assert item.source_decision == decision
    event = AuditEvent.objects.filter(action=Action.CREATE).order_by("-sequence").first()
    assert event.object_type == "eligibilitydecision" and event.detail["final_status"] == (
        "eligible_with_cautions"
    )
    assert event.detail["checklist_items_created"] == [item.pk]
    assert services.latest_eligibility_decision(patient, "ketamine") == decision
    page = client.get(reverse("assessments:patient", kwargs={"patient_id": patient.pk}))
    assert b"KET-MISS-003" in page.content and b"Pregnancy status unknown" in page.content


def test_the_same_missing_item_is_not_repeated_while_open(patient, met, client_for):
    client = client_for(P)
    data = {
        **facts_post(pregnancy="unknown"),
        **record(
            ketamine_decision="accept",
            ketamine_seen_status="eligible_with_cautions",
            lidocaine_decision="accept",
            lidocaine_seen_status="eligible_with_cautions",
        ),
    }
    client.post(url(patient), data)
    client.post(url(patient), data)
    assert EligibilityDecision.objects.count() == 4
    # KET-MISS-003 and LID-MISS-002 (both: pregnancy unknown) once each.
    assert sorted(ChecklistItem.objects.values_list("rule_id", flat=True)) == [
        "KET-MISS-003",
        "LID-MISS-002",
    ]


def test_an_override_without_a_reason_is_refused_and_nothing_saved(patient, met, client_for):
    client = client_for(P)
    before = AuditEvent.objects.count()
    data = {
        **facts_post(),
        **record(
            ketamine_decision="override",
            ketamine_final_status="not_eligible",
            ketamine_override_reason="   ",
            ketamine_seen_status="eligible",
        ),
    }
    response = client.post(url(patient), data)
    assert response.status_code == 200
    errors = response.context["decision_form"].errors
    assert "ketamine_override_reason" in errors
    assert "needs a reason" in " ".join(errors["ketamine_override_reason"])
    assert EligibilityDecision.objects.count() == 0
    assert ChecklistItem.objects.count() == 0
    # Only the read of the patient was audited: no decision row.
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.order_by("-sequence").first().action == Action.VIEW


def test_an_override_with_a_reason_is_recorded(patient, met, client_for):
    data = {
        **facts_post(),
        **record(
            ketamine_decision="override",
            ketamine_final_status="not_eligible",
            ketamine_override_reason="Uncontrolled hypertension at home readings",
            ketamine_seen_status="eligible",
        ),
    }
    assert client_for(P).post(url(patient), data).status_code == 302
    decision = EligibilityDecision.objects.get()
    assert decision.engine_status == "eligible" and decision.final_status == "not_eligible"
    assert decision.physician_decision == "override"
    assert decision.override_reason == "Uncontrolled hypertension at home readings"
    event = AuditEvent.objects.filter(action=Action.CREATE, object_type="eligibilitydecision").get()
    assert event.detail["override_reason"] == decision.override_reason


def test_an_override_to_the_engines_own_status_is_refused(patient, met, client_for):
    data = {
        **facts_post(),
        **record(
            ketamine_decision="override",
            ketamine_final_status="eligible",
            ketamine_override_reason="because",
            ketamine_seen_status="eligible",
        ),
    }
    response = client_for(P).post(url(patient), data)
    assert "ketamine_final_status" in response.context["decision_form"].errors
    assert EligibilityDecision.objects.count() == 0


def test_an_override_needs_the_status_decided(patient, met, client_for):
    data = {
        **facts_post(),
        **record(
            ketamine_decision="override",
            ketamine_override_reason="because",
            ketamine_seen_status="eligible",
        ),
    }
    response = client_for(P).post(url(patient), data)
    assert "ketamine_final_status" in response.context["decision_form"].errors
    assert EligibilityDecision.objects.count() == 0


def test_recording_needs_a_decision_for_some_drug(patient, met, client_for):
    response = client_for(P).post(url(patient), {**facts_post(), **record()})
    assert response.context["decision_form"].non_field_errors()
    assert EligibilityDecision.objects.count() == 0


def test_a_recommendation_that_changed_since_it_was_shown_is_refused(patient, met, client_for):
    # The physician saw "eligible", then ticked pregnancy unknown without re-evaluating.
    data = {
        **facts_post(pregnancy="unknown"),
        **record(ketamine_decision="accept", ketamine_seen_status="eligible"),
    }
    response = client_for(P).post(url(patient), data)
    assert "ketamine_decision" in response.context["decision_form"].errors
    assert "changed" in " ".join(response.context["decision_form"].errors["ketamine_decision"])
    assert EligibilityDecision.objects.count() == 0


def test_a_nurse_cannot_record_a_decision(patient, met, client_for):
    data = {**facts_post(), **record(ketamine_decision="accept", ketamine_seen_status="eligible")}
    assert client_for(N).post(url(patient), data).status_code == 403
    assert EligibilityDecision.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("systolic_bp_mmhg", "0", "between 50 and 260"),
        ("systolic_bp_mmhg", "-120", "between 50 and 260"),
        ("diastolic_bp_mmhg", "130", "below the systolic"),
        ("heart_rate_bpm", "400", "between 20 and 250"),
        ("spo2_percent", "101", "between 50 and 100"),
    ],
)
def test_implausible_vitals_are_refused_on_the_field(
    field, value, message, patient, met, client_for
):
    data = {
        **facts_post(**{field: value}),
        **record(ketamine_decision="accept", ketamine_seen_status="eligible"),
    }
    response = client_for(P).post(url(patient), data)
    errors = response.context["facts_form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert response.context["engine"] is None
    assert EligibilityDecision.objects.count() == 0


def test_only_one_blood_pressure_value_is_refused(patient, met, client_for):
    response = client_for(P).post(
        url(patient), {**facts_post(diastolic_bp_mmhg=""), "action": "evaluate"}
    )
    assert "diastolic_bp_mmhg" in response.context["facts_form"].errors


def test_ecg_findings_without_an_ecg_are_refused(patient, met, client_for):
    data = {**facts_post(ecg_on_file="no", ecg_findings=["qrs_widening"]), "action": "evaluate"}
    response = client_for(P).post(url(patient), data)
    assert "ecg_findings" in response.context["facts_form"].errors


@pytest.mark.parametrize(
    ("field", "value", "error_field"),
    [
        ("prior-3-max_daily_dose_mg", "-5", "max_daily_dose_mg"),
        ("prior-3-duration_weeks", "-1", "duration_weeks"),
        ("prior-3-outcome", "", "outcome"),
    ],
)
def test_bad_prior_treatment_rows_are_refused_on_the_field(
    field, value, error_field, patient, met, client_for
):
    data = {
        **facts_post(**{"prior-3-treatment": "pregabalin", "prior-3-outcome": "no_relief"}),
        field: value,
        "action": "evaluate",
    }
    response = client_for(P).post(url(patient), data)
    assert error_field in response.context["treatments"].forms[3].errors
    assert response.context["engine"] is None


def test_a_prior_treatment_row_without_a_name_is_refused(patient, met, client_for):
    data = {**facts_post(**{"prior-3-duration_weeks": "4"}), "action": "evaluate"}
    response = client_for(P).post(url(patient), data)
    assert "treatment" in response.context["treatments"].forms[3].errors


def test_interacting_medicines_show_as_interactions(patient, met, client_for):
    data = {**facts_post(current_medications="Amiodarone, fluoxetine"), "action": "evaluate"}
    response = client_for(P).post(url(patient), data)
    lidocaine = response.context["engine"]["lidocaine"]
    assert lidocaine["status"] == "not_eligible"
    assert {r["rule_id"] for r in lidocaine["interactions"]} >= {"LID-IX-001", "LID-IX-003"}
    assert response.context["facts_json"]["current_medications"] == [
        {"text": "Amiodarone, fluoxetine", "ingredients": ["amiodarone", "fluoxetine"]}
    ]


def test_brand_names_with_doses_are_coded_and_shown_with_what_they_were_recognised_as(
    patient, met, client_for
):
    text = "Tambocor 100 mg twice daily\nmetoprolol tartrate 50 mg\nzorblax 5 mg"
    data = {**facts_post(current_medications=text), "action": "evaluate"}
    response = client_for(P).post(url(patient), data)
    assert response.context["facts_json"]["current_medications"] == [
        {"text": "Tambocor 100 mg twice daily", "ingredients": ["flecainide"]},
        {"text": "metoprolol tartrate 50 mg", "ingredients": ["metoprolol"]},
        {"text": "zorblax 5 mg", "ingredients": []},
    ]
    lidocaine = response.context["engine"]["lidocaine"]
    assert lidocaine["status"] == "not_eligible"
    assert {"LID-IX-002", "LID-IX-005"} <= {r["rule_id"] for r in lidocaine["interactions"]}
    page = response.content.decode()
    assert "flecainide (class I (sodium-channel) antiarrhythmic)" in page
    assert "not recognised, check by hand" in page
    assert "zorblax" in " ".join(r["detail"] for r in lidocaine["missing_information"])


def test_a_documented_phn_with_dn4_below_cut_off_is_a_caution(patient, request_as, client_for):
    from painclinic.clinical.instruments.neuropathic import DN4_ITEMS

    dn4 = dict.fromkeys(DN4_ITEMS, False)  # 0 of 10: below the cut-off of 4
    services.do_record_assessment(request_as(), patient, "dn4", dn4)
    data = {
        **facts_post(condition="phn", clinician_confirmed="yes", months_since_rash="6"),
        "action": "evaluate",
    }
    response = client_for(P).post(url(patient), data)
    engine = response.context["engine"]
    assert response.context["facts_json"]["diagnosis"]["findings"] == {"months_since_rash": 6.0}
    for drug in ("ketamine", "lidocaine"):
        assert engine[drug]["absolute_contraindications"] == []
        assert engine[drug]["status"] == "eligible_with_cautions"


def test_the_form_is_prefilled_from_the_last_decision(patient, met, client_for):
    client = client_for(P)
    data = {
        **facts_post(current_medications="duloxetine"),
        **record(ketamine_decision="accept", ketamine_seen_status="eligible_with_cautions"),
    }
    # duloxetine for CRPS: no interaction; accept whatever the engine said.
    seen = client.post(url(patient), {**data, "action": "evaluate"}).context["engine"]
    data["ketamine_seen_status"] = seen["ketamine"]["status"]
    assert client.post(url(patient), data).status_code == 302
    response = client.get(url(patient))
    assert response.context["prefilled"] is True
    assert response.context["facts_form"].initial["current_medications"] == "duloxetine"
    assert response.context["treatments"].initial[1]["treatment"] == "gabapentin"


def test_age_in_years_turns_on_the_birthday():
    born = dt.date(1970, 5, 17)
    assert services.age_in_years(born, dt.date(2026, 5, 16)) == 55
    assert services.age_in_years(born, dt.date(2026, 5, 17)) == 56


def test_a_missing_weight_becomes_lidocaine_missing_information(users, met, client_for):
    patient = met.patient
    WeightMeasurement.objects.filter(patient=patient).delete()
    response = client_for(P).post(url(patient), {**facts_post(), "action": "evaluate"})
    missing = [r["rule_id"] for r in response.context["engine"]["lidocaine"]["missing_information"]]
    assert "LID-MISS-003" in missing


# --- decision page and checklist ------------------------------------------------------------


@pytest.fixture
def item(patient, met, client_for):
    data = {
        **facts_post(pregnancy="unknown"),
        **record(ketamine_decision="accept", ketamine_seen_status="eligible_with_cautions"),
    }
    client_for(P).post(url(patient), data)
    return ChecklistItem.objects.get()


def test_the_decision_page_shows_every_reason(patient, item, client_for):
    decision = item.source_decision
    response = client_for(N).get(
        reverse(
            "assessments:decision", kwargs={"patient_id": patient.pk, "decision_id": decision.pk}
        )
    )
    page = response.content.decode()
    assert "KET-MISS-003" in page and "Pregnancy status unknown" in page
    assert "Accepted the recommendation" in page


def resolve_url(patient, item):
    return reverse(
        "assessments:resolve_item", kwargs={"patient_id": patient.pk, "item_id": item.pk}
    )


def test_resolving_an_item_keeps_it_with_who_and_when(users, patient, item, client_for):
    client = client_for(N)
    response = client.post(
        resolve_url(patient, item), {"note": "Negative urine hCG today", "expected_version": "1"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert not item.is_open and item.resolved_by == users[N]
    assert item.resolution_note == "Negative urine hCG today" and item.version == 2
    assert ChecklistItem.objects.count() == 1
    event = AuditEvent.objects.filter(action=Action.UPDATE).order_by("-sequence").first()
    assert event.detail["rule_id"] == "KET-MISS-003" and event.detail["after"]["resolved"]
    assert list(services.open_checklist_items(patient)) == []


def test_resolving_needs_a_note(patient, item, client_for):
    client = client_for(N)
    before = AuditEvent.objects.count()
    response = client.post(resolve_url(patient, item), {"note": "  ", "expected_version": "1"})
    assert "note" in response.context["form"].errors
    item.refresh_from_db()
    assert item.is_open
    assert AuditEvent.objects.count() == before + 1  # the read only


def test_resolving_a_stale_item_is_a_visible_conflict(patient, item, client_for):
    client_for(P).post(resolve_url(patient, item), {"note": "done", "expected_version": "1"})
    response = client_for(N).post(
        resolve_url(patient, item), {"note": "also done", "expected_version": "1"}
    )
    assert response.status_code == 409
    assert b"Someone else changed this item" in response.content
    item.refresh_from_db()
    assert item.resolution_note == "done"
    assert AuditEvent.objects.filter(outcome=Outcome.CONFLICT).count() == 1


def test_a_checklist_is_only_shown_on_its_own_patient(patient, item, client_for):
    other = make_patient("Grace", "Hopper")
    client = client_for(N)
    mine = client.get(reverse("assessments:patient", kwargs={"patient_id": patient.pk}))
    theirs = client.get(reverse("assessments:patient", kwargs={"patient_id": other.pk}))
    assert b"KET-MISS-003" in mine.content
    assert b"KET-MISS-003" not in theirs.content
    assert theirs.context["open_items"] == []


def test_service_refuses_an_override_without_a_reason(patient, met, request_as):
    choice = services.DrugDecision("ketamine", "override", "not_eligible", " ", "eligible")
    with pytest.raises(services.DecisionError) as error:
        services.do_record_eligibility(request_as(), patient, clean_entry(), [choice])
    assert error.value.field == "ketamine_override_reason"
    assert EligibilityDecision.objects.count() == 0


@pytest.mark.parametrize(
    ("final", "saved"), [("eligible", False), ("eligible_with_cautions", True)]
)
def test_an_absolute_contraindication_overrides_only_to_eligible_with_cautions(
    final, saved, patient, met, client_for
):
    # Pregnant: an absolute contraindication to ketamine.
    data = {
        **facts_post(pregnancy="pregnant"),
        **record(
            ketamine_decision="override",
            ketamine_final_status=final,
            ketamine_override_reason="Patient to be re-tested; result disputed",
            ketamine_seen_status="not_eligible",
        ),
    }
    response = client_for(P).post(url(patient), data)
    assert EligibilityDecision.objects.exists() is saved
    if not saved:
        assert "ketamine_final_status" in response.context["decision_form"].errors
    else:
        decision = EligibilityDecision.objects.get()
        assert decision.engine_status == "not_eligible"
        assert decision.final_status == "eligible_with_cautions"
        absolute = decision.engine_result["absolute_contraindications"]
        assert [r["rule_id"] for r in absolute] == ["KET-CI-006"]


def test_the_service_refuses_plain_eligible_over_an_absolute_contraindication(
    patient, met, request_as
):
    entry = clean_entry(pregnancy="pregnant")
    choice = services.DrugDecision("ketamine", "override", "eligible", "reason", "not_eligible")
    with pytest.raises(services.DecisionError) as error:
        services.do_record_eligibility(request_as(), patient, entry, [choice])
    assert error.value.field == "ketamine_final_status"
    assert EligibilityDecision.objects.count() == 0


@pytest.mark.parametrize("role", [Role.NURSE, Role.FRONT_DESK])
def test_only_a_physician_may_record_a_decision_even_through_the_service(
    role, patient, met, request_as
):
    from django.core.exceptions import PermissionDenied

    choice = services.DrugDecision("ketamine", "accept", "", "", "eligible")
    with pytest.raises(PermissionDenied):
        services.do_record_eligibility(request_as(role), patient, clean_entry(), [choice])
    assert EligibilityDecision.objects.count() == 0


@pytest.mark.parametrize(("role", "allowed"), [(Role.NURSE, True), (Role.BILLING, False)])
def test_only_clinicians_may_record_an_assessment_through_the_service(
    role, allowed, patient, request_as
):
    from django.core.exceptions import PermissionDenied

    if allowed:
        services.do_record_assessment(request_as(role), patient, "nrs", {"score": 4})
    else:
        with pytest.raises(PermissionDenied):
            services.do_record_assessment(request_as(role), patient, "nrs", {"score": 4})
    assert services.current_assessments(patient).exists() is allowed


def test_vitals_and_pregnancy_are_not_carried_over(patient, met, client_for):
    client = client_for(P)
    data = {
        **facts_post(pregnancy="not_pregnant"),
        **record(ketamine_decision="accept", ketamine_seen_status="eligible"),
    }
    assert client.post(url(patient), data).status_code == 302
    form = client.get(url(patient)).context["facts_form"]
    assert form["systolic_bp_mmhg"].value() is None
    assert form["pregnancy"].value() == "unknown"
    assert form["liver_tests_on_file"].value() is True


def test_a_failure_while_recording_leaves_nothing_behind(patient, met, client_for):
    from unittest import mock

    client = client_for(P)
    data = {
        **facts_post(pregnancy="unknown"),
        **record(ketamine_decision="accept", ketamine_seen_status="eligible_with_cautions"),
    }
    with (
        mock.patch(
            "painclinic.web.assessments.services.audit", side_effect=RuntimeError("disk full")
        ),
        pytest.raises(RuntimeError),
    ):
        client.post(url(patient), data)
    assert EligibilityDecision.objects.count() == 0
    assert ChecklistItem.objects.count() == 0


def test_an_override_reason_is_escaped(patient, met, client_for):
    client = client_for(P)
    payload = "<script>alert(1)</script>"
    data = {
        **facts_post(),
        **record(
            ketamine_decision="override",
            ketamine_final_status="not_eligible",
            ketamine_override_reason=payload,
            ketamine_seen_status="eligible",
        ),
    }
    client.post(url(patient), data)
    decision = EligibilityDecision.objects.get()
    page = client.get(
        reverse(
            "assessments:decision", kwargs={"patient_id": patient.pk, "decision_id": decision.pk}
        )
    ).content.decode()
    assert payload not in page and "&lt;script&gt;" in page


def test_a_second_physician_cosigns_an_absolute_override_on_the_decision_page(
    patient, met, request_as, client_for
):
    from tests.conftest import logged_in_client, make_user

    entry = clean_entry(current_medications=["Cordarone 200 mg daily"])
    facts, _ = services.build_facts(patient, entry)
    assert services.evaluate(facts).to_dict()["lidocaine"]["status"] == "not_eligible"
    choice = services.DrugDecision(
        "lidocaine", "override", "eligible_with_cautions", "stopped last month", "not_eligible"
    )
    (decision,) = services.do_record_eligibility(request_as(), patient, entry, [choice])
    page_url = reverse(
        "assessments:decision", kwargs={"patient_id": patient.pk, "decision_id": decision.pk}
    )
    own = client_for(P).get(page_url)
    assert "Awaiting a second physician" in own.content.decode()
    assert own.context["cosign_form"] is None  # the deciding physician cannot co-sign
    second = logged_in_client(make_user(Role.PHYSICIAN, "dr.second"))
    assert second.get(page_url).context["cosign_form"] is not None
    cosign_url = reverse(
        "assessments:cosign_decision",
        kwargs={"patient_id": patient.pk, "decision_id": decision.pk},
    )
    empty = second.post(cosign_url, {"note": "", "expected_version": decision.version})
    assert empty.status_code == 400
    done = second.post(cosign_url, {"note": "agree", "expected_version": decision.version})
    assert done.status_code == 302
    decision.refresh_from_db()
    assert decision.cosigned_by.username == "dr.second" and not decision.awaiting_cosign
    assert "Co-signed" in second.get(page_url).content.decode()
    nurse = client_for(N).post(cosign_url, {"note": "x", "expected_version": decision.version})
    assert nurse.status_code == 403
