"""The assessment and eligibility services called directly (no view): every refusal and conflict
raises, saves nothing, and leaves exactly one audit event that survives the rollback; a wrong
role is refused by the service itself."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.core.exceptions import PermissionDenied

from painclinic.web.accounts.models import Role
from painclinic.web.assessments import services
from painclinic.web.assessments.models import Assessment, ChecklistItem, EligibilityDecision
from painclinic.web.assessments.roles import ROLES
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from painclinic.web.lib.service import RoleRefused
from painclinic.web.treatments.services import eligibility_check
from tests.conftest import actor_as, make_user
from tests.web.assessments.conftest import budapest_met, clean_entry

pytestmark = pytest.mark.django_db


def newest() -> AuditEvent:
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event is not None
    return event


def audited_once(before: int, *, service: str, outcome: str, patient) -> AuditEvent:
    """Exactly one new event, in the database after the call, for ``service``."""
    assert AuditEvent.objects.count() == before + 1
    event = newest()
    assert event.outcome == outcome
    assert event.detail["service"] == service
    assert event.patient_id == patient.pk
    return event


def seen_status(patient, entry, drug="ketamine") -> str:
    facts, _ = services.build_facts(patient, entry)
    return services.evaluate(facts).to_dict()[drug]["status"]


@pytest.fixture
def met(patient, request_as) -> Assessment:
    return services.do_record_assessment(request_as(), patient, "budapest", budapest_met())


@pytest.fixture
def item(patient, met, request_as) -> ChecklistItem:
    """An open checklist item: the ECG the engine names missing (cardiac risk, no ECG)."""
    entry = clean_entry(ecg=None, comorbidities=["cardiac_risk_factors"])
    status = seen_status(patient, entry)
    choice = services.DrugDecision("ketamine", "accept", "", "", status)
    services.do_record_eligibility(request_as(), patient, entry, [choice])
    return ChecklistItem.objects.get(patient=patient, resolved_at__isnull=True)


# --- corrections --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["other_instrument", "already_corrected", "no_reason"])
def test_a_refused_correction_saves_nothing_and_is_audited(patient, met, request_as, case):
    instrument, answers, reason, field = "budapest", budapest_met(), "wrong side", None
    if case == "other_instrument":
        instrument, answers = "nrs", {"score": 4}
    elif case == "already_corrected":
        services.do_record_assessment(
            request_as(), patient, "budapest", budapest_met(), supersedes=met, correction_reason="x"
        )
    else:
        reason, field = "  ", "correction_reason"
    rows = Assessment.objects.count()
    before = AuditEvent.objects.count()
    with pytest.raises(services.DecisionError) as error:
        services.do_record_assessment(
            request_as(), patient, instrument, answers, supersedes=met, correction_reason=reason
        )
    assert error.value.field == field
    assert Assessment.objects.count() == rows
    event = audited_once(
        before, service="do_record_assessment", outcome=Outcome.DENIED, patient=patient
    )
    assert event.object_type == "assessment" and event.object_id == str(met.pk)
    assert event.category == "assessment" and event.detail["refused"] == error.value.message


# --- eligibility decisions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "field"),
    [
        (None, None),  # no drug decided
        (("opioid", "accept", "", "", "eligible"), None),
        (("ketamine", "accept", "", "", "not_eligible"), "ketamine_decision"),  # stale
        (("ketamine", "maybe", "", "", "eligible"), "ketamine_decision"),
        (("ketamine", "override", "not_eligible", " ", "eligible"), "ketamine_override_reason"),
        (("ketamine", "override", "unsure", "why", "eligible"), "ketamine_final_status"),
        (("ketamine", "override", "eligible", "why", "eligible"), "ketamine_final_status"),
    ],
)
def test_a_refused_eligibility_decision_saves_nothing_and_is_audited(
    patient, met, request_as, decision, field
):
    choices = [] if decision is None else [services.DrugDecision(*decision)]
    before = AuditEvent.objects.count()
    with pytest.raises(services.DecisionError) as error:
        services.do_record_eligibility(request_as(), patient, clean_entry(), choices)
    assert error.value.field == field
    assert not EligibilityDecision.objects.exists() and not ChecklistItem.objects.exists()
    event = audited_once(
        before, service="do_record_eligibility", outcome=Outcome.DENIED, patient=patient
    )
    assert event.category == "eligibility" and event.detail["field"] == field


def test_an_absolute_contraindication_overridden_to_eligible_is_refused_with_the_drug(
    patient, met, request_as
):
    entry = clean_entry(pregnancy="pregnant")
    assert seen_status(patient, entry) == "not_eligible"
    choice = services.DrugDecision("ketamine", "override", "eligible", "disputed", "not_eligible")
    before = AuditEvent.objects.count()
    with pytest.raises(services.DecisionError):
        services.do_record_eligibility(request_as(), patient, entry, [choice])
    assert not EligibilityDecision.objects.exists()
    event = audited_once(
        before, service="do_record_eligibility", outcome=Outcome.DENIED, patient=patient
    )
    assert event.detail["drug"] == "ketamine" and event.detail["engine_status"] == "not_eligible"


def test_the_entry_is_a_dataclass_a_command_can_build(patient, met, request_as):
    entry = replace(clean_entry(), heart_rate_bpm=64, ecg_findings=("qrs_widening",))
    facts, _ = services.build_facts(patient, entry)
    assert facts["vitals"]["heart_rate_bpm"] == 64
    assert facts["ecg"]["qrs_widening"] is True and facts["ecg"]["atrial_fibrillation"] is False
    assert facts["prior_treatments"][1] == {
        "treatment": "gabapentin",
        "max_daily_dose_mg": 1800,
        "duration_weeks": 8,
        "outcome": "no_relief",
        "total_dose_mg": None,
        "infusion_duration_h": None,
    }
    no_ecg = replace(entry, ecg_on_file=False)
    assert services.build_facts(patient, no_ecg)[0]["ecg"] is None


# --- the checklist ------------------------------------------------------------------------------


def test_resolving_without_a_note_is_refused_and_audited(patient, item, request_as):
    before = AuditEvent.objects.count()
    with pytest.raises(services.DecisionError) as error:
        services.do_resolve_checklist_item(request_as(Role.NURSE), item, "  ", item.version)
    assert error.value.field == "note"
    item.refresh_from_db()
    assert item.is_open and item.version == 1
    event = audited_once(
        before, service="do_resolve_checklist_item", outcome=Outcome.DENIED, patient=patient
    )
    assert event.object_type == "checklistitem" and event.object_id == str(item.pk)


def test_a_stale_resolution_is_a_conflict_whose_audit_survives(patient, item, request_as):
    services.do_resolve_checklist_item(request_as(), item, "ECG normal", item.version)
    before = AuditEvent.objects.count()
    with pytest.raises(services.ChecklistConflict) as error:
        services.do_resolve_checklist_item(request_as(Role.NURSE), item, "also done", 1)
    assert error.value.current.resolution_note == "ECG normal"
    item.refresh_from_db()
    assert item.resolution_note == "ECG normal" and item.version == 2
    event = audited_once(
        before, service="do_resolve_checklist_item", outcome=Outcome.CONFLICT, patient=patient
    )
    assert event.detail["expected_version"] == 1 and event.detail["current_version"] == 2
    assert event.detail["changes"] == ["resolved_at", "resolution_note"]
    assert event.object_type == "checklistitem" and event.action == Action.UPDATE


# --- roles --------------------------------------------------------------------------------------


def _calls(patient, item):
    entry = clean_entry()
    return {
        "record_assessment": lambda actor: services.do_record_assessment(
            actor, patient, "nrs", {"score": 4}
        ),
        "record_eligibility": lambda actor: services.do_record_eligibility(
            actor, patient, entry, [services.DrugDecision("ketamine", "accept", "", "", "x")]
        ),
        "resolve_checklist_item": lambda actor: services.do_resolve_checklist_item(
            actor, item, "done", item.version
        ),
        "cosign_eligibility": lambda actor: services.do_cosign_eligibility(actor, 1, 1, "agree"),
    }


def test_every_service_has_its_role_rule_and_is_called_here():
    names = {n.removeprefix("do_") for n in vars(services) if n.startswith("do_")}
    table = {n for n, _ in ROLES.items() if not n.startswith("view_")}
    assert names == table == set(_calls(None, None))
    for name in names:
        assert getattr(services, f"do_{name}").allowed_roles == getattr(ROLES, name)


@pytest.mark.parametrize(
    "role", [Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN, Role.PATIENT]
)
def test_a_wrong_role_calling_a_service_directly_is_refused_and_audited(
    patient, item, request_as, users, role
):
    counts = (Assessment.objects.count(), EligibilityDecision.objects.count())
    for name, call in _calls(patient, item).items():
        if role in getattr(ROLES, name):
            continue
        before = AuditEvent.objects.count()
        with pytest.raises(PermissionDenied) as error:
            call(request_as(role))
        assert isinstance(error.value, RoleRefused), name
        event = newest()
        assert AuditEvent.objects.count() == before + 1, name
        assert event.outcome == Outcome.DENIED and event.action == Action.ACCESS_DENIED
        assert event.detail["service"] == f"do_{name}" and event.actor == users[role]
    assert (Assessment.objects.count(), EligibilityDecision.objects.count()) == counts
    item.refresh_from_db()
    assert item.is_open


# --- overriding an absolute contraindication needs a second physician ---------------------------


def _override_absolute(patient, actor) -> EligibilityDecision:
    entry = clean_entry(current_medications=["Tambocor 100 mg twice daily"])
    assert seen_status(patient, entry, "lidocaine") == "not_eligible"
    choice = services.DrugDecision(
        "lidocaine", "override", "eligible_with_cautions", "cardiologist stopped it", "not_eligible"
    )
    (decision,) = services.do_record_eligibility(actor, patient, entry, [choice])
    return decision


def test_overriding_an_absolute_contraindication_awaits_a_second_physician(
    patient, met, request_as, users
):
    decision = _override_absolute(patient, request_as())
    assert decision.cosign_required and decision.awaiting_cosign
    event = newest()
    assert event.detail["awaiting_cosign"] is True
    assert event.detail["absolute_overridden"] == ["LID-IX-002"]
    check = eligibility_check(patient, "lidocaine")
    assert not check.ok and "second physician" in check.message

    before = AuditEvent.objects.count()
    with pytest.raises(services.DecisionError) as error:
        services.do_cosign_eligibility(request_as(), decision.pk, decision.version, "I agree")
    assert "second physician" in error.value.message
    audited_once(before, service="do_cosign_eligibility", outcome=Outcome.DENIED, patient=patient)
    assert not eligibility_check(patient, "lidocaine").ok

    second = actor_as(make_user(Role.PHYSICIAN, "second.physician"))
    with pytest.raises(services.DecisionError) as error:
        services.do_cosign_eligibility(second, decision.pk, decision.version, "  ")
    assert error.value.field == "note"
    signed = services.do_cosign_eligibility(second, decision.pk, decision.version, "I agree")
    assert not signed.awaiting_cosign and signed.cosigned_by.username == "second.physician"
    event = newest()
    assert event.detail["event"] == "cosign" and event.detail["cosigned_by"] == "second.physician"
    check = eligibility_check(patient, "lidocaine")
    assert check.ok and check.snapshot["cosigned_by"] == signed.cosigned_by_id
    with pytest.raises(services.DecisionError):
        services.do_cosign_eligibility(second, decision.pk, signed.version, "again")


def test_overriding_a_relative_caution_needs_no_second_physician(patient, met, request_as):
    entry = clean_entry(current_medications=["metoprolol tartrate 50 mg"])
    assert seen_status(patient, entry, "lidocaine") == "eligible_with_cautions"
    choice = services.DrugDecision(
        "lidocaine", "override", "eligible", "stable on it for years", "eligible_with_cautions"
    )
    (decision,) = services.do_record_eligibility(request_as(), patient, entry, [choice])
    assert not decision.cosign_required and eligibility_check(patient, "lidocaine").ok
