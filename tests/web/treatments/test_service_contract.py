"""The treatments services called directly (no view): every refusal and conflict raises, saves
nothing, and leaves exactly one audit event that survives the rollback; a wrong role is refused
by the service itself; a refused hard limit is audited with its values."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from painclinic.web.lib.service import HardLimitRefused, RoleRefused
from painclinic.web.treatments.models import (
    FeeItem,
    PlannedSession,
    PlanStatus,
    TreatmentConsent,
    TreatmentConsentDecision,
    TreatmentPlan,
)
from painclinic.web.treatments.roles import ROLES
from painclinic.web.treatments.services import (
    FeeItemInput,
    PlanConflict,
    ServiceError,
    do_add_fee_item,
    do_cancel_plan,
    do_cosign_plan,
    do_create_plan,
    do_deactivate_fee_item,
    do_record_treatment_consent,
    do_withdraw_treatment_consent,
    preview_plan,
)
from tests.conftest import make_patient, make_user
from tests.web.committed import (
    _audit_triggers_restored,
    committed_db,
    skip_unless_races_can_run,
)
from tests.web.treatments.conftest import (
    consent_input,
    decide_eligibility,
    heavier,
    request_as,
    set_weight,
    sign_consent,
)

pytestmark = pytest.mark.django_db
__all__ = ["_audit_triggers_restored", "committed_db"]


def newest() -> AuditEvent:
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event is not None
    return event


def audited_once(before: int, *, service: str, outcome: str, patient=None) -> AuditEvent:
    """Exactly one new event, in the database after the call, for ``service``."""
    assert AuditEvent.objects.count() == before + 1
    event = newest()
    assert event.outcome == outcome
    assert event.detail["service"] == service
    assert event.patient_id == (patient.pk if patient is not None else None)
    return event


def create(patient, user, protocol_id, *, reason="", weight_id=None):
    preview = preview_plan(patient, protocol_id)
    latest = preview.weight.weight
    return do_create_plan(
        request_as(user),
        patient,
        protocol_id=protocol_id,
        sessions=preview.protocol.sessions,
        soft_limit_reason=reason,
        expected_weight_id=weight_id or (latest.pk if latest else None),
    )


def fee(**overrides) -> FeeItemInput:
    values = {
        "code": "KET-SESSION",
        "description": "Ketamine session",
        "amount_cents": 45000,
        "basis": "per_session",
        "effective_from": dt.date(2026, 1, 1),
        "drug": "ketamine",
    }
    return FeeItemInput(**{**values, **overrides})


# --- the fee schedule ---------------------------------------------------------------------------


def test_a_second_price_for_the_same_code_and_date_is_refused_and_audited(users):
    billing = request_as(users[Role.BILLING])
    do_add_fee_item(billing, fee())
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError) as error:
        do_add_fee_item(billing, fee(amount_cents=50000))
    assert error.value.field == "effective_from"
    assert FeeItem.objects.count() == 1
    event = audited_once(before, service="do_add_fee_item", outcome=Outcome.DENIED)
    assert event.category == "billing" and event.detail["field"] == "effective_from"


def test_a_fee_of_no_cents_is_refused_on_the_amount(users):
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError) as error:
        do_add_fee_item(request_as(users[Role.CLINIC_ADMIN]), fee(amount_cents=0))
    assert error.value.field == "amount"
    assert not FeeItem.objects.exists()
    audited_once(before, service="do_add_fee_item", outcome=Outcome.DENIED)


def test_deactivating_an_inactive_fee_is_refused_and_audited(users, fees):
    admin = request_as(users[Role.CLINIC_ADMIN])
    item = FeeItem.objects.get(code="DEMO-SUPPLIES")
    do_deactivate_fee_item(admin, item.pk)
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError, match="already inactive"):
        do_deactivate_fee_item(admin, item.pk)
    event = audited_once(before, service="do_deactivate_fee_item", outcome=Outcome.DENIED)
    assert event.object_type == "feeitem" and event.object_id == str(item.pk)


# --- consent ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("self_witness", "witness"),
        ("patient_witness", "witness"),
        ("inactive_witness", "witness"),
        ("not_confirmed", "signature_confirmed"),
        ("naive_time", "signed_at"),
        ("unknown_protocol", "protocol_id"),
        ("sessions", "sessions"),
        ("estimate_changed", None),
    ],
)
def test_a_refused_consent_saves_nothing_and_is_audited(patient, users, fees, case, field):
    physician, nurse = users[Role.PHYSICIAN], users[Role.NURSE]
    values = {
        "self_witness": {"witness": physician},
        "patient_witness": {"witness": users[Role.PATIENT]},
        "inactive_witness": {"witness": make_user(Role.NURSE, "gone")},
        "not_confirmed": {"signature_confirmed": False},
        "naive_time": {"signed_at": dt.datetime(2026, 1, 5, 10, 0)},
        "unknown_protocol": {"protocol_id": "no-such-protocol"},
        "sessions": {"sessions": 7},
        "estimate_changed": {"shown_total_cents": 1},
    }[case]
    if case == "inactive_witness":
        values["witness"].is_active = False
        values["witness"].save()
    protocol_id = "ket-crps-outpatient"
    entry = replace(consent_input(protocol_id, 10, nurse), **values)
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError) as error:
        do_record_treatment_consent(request_as(physician), patient, entry)
    assert error.value.field == field
    assert not TreatmentConsent.objects.exists()
    event = audited_once(
        before, service="do_record_treatment_consent", outcome=Outcome.DENIED, patient=patient
    )
    assert event.category == "treatment" and event.detail["refused"] == error.value.message
    if case == "estimate_changed":
        assert event.detail["shown_total_cents"] == 1
        # The fee items are health services (HST-exempt, their default category): no tax.
        assert event.detail["estimate_total_cents"] == 25000 + 10 * 45000 + 10 * 2550


@pytest.mark.parametrize("case", ["twice", "a_withdrawal", "no_reason"])
def test_a_refused_withdrawal_saves_nothing_and_is_audited(patient, users, fees, case):
    physician = request_as(users[Role.PHYSICIAN])
    consent = sign_consent(
        patient, "ket-crps-outpatient", 10, users[Role.PHYSICIAN], users[Role.NURSE]
    )
    target, reason = consent, "changed her mind"
    if case != "no_reason":
        withdrawal = do_withdraw_treatment_consent(physician, consent, "changed her mind")
        target = consent if case == "twice" else withdrawal
    else:
        reason = "   "
    rows = TreatmentConsent.objects.count()
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError):
        do_withdraw_treatment_consent(physician, target, reason)
    assert TreatmentConsent.objects.count() == rows
    event = audited_once(
        before, service="do_withdraw_treatment_consent", outcome=Outcome.DENIED, patient=patient
    )
    assert event.object_type == "treatmentconsent" and event.object_id == str(target.pk)


# --- plans --------------------------------------------------------------------------------------


def test_a_refused_hard_limit_is_audited_with_its_values(users, fees):
    physician, nurse = users[Role.PHYSICIAN], users[Role.NURSE]
    small = make_patient("Tiny", "Person")
    weight = set_weight(small, "45.0", nurse, height="170")
    decide_eligibility(small, "lidocaine", physician)
    sign_consent(small, "lid-1.5mgkg-ibw", 1, physician, nurse)
    before = AuditEvent.objects.count()
    with pytest.raises(HardLimitRefused) as error:
        create(small, physician, "lid-1.5mgkg-ibw")
    assert "Nothing was saved" in error.value.message
    assert not TreatmentPlan.objects.exists() and not PlannedSession.objects.exists()
    event = audited_once(before, service="do_create_plan", outcome=Outcome.DENIED, patient=small)
    detail = event.detail
    assert detail["drug"] == "lidocaine" and detail["protocol_id"] == "lid-1.5mgkg-ibw"
    # 1.5 mg/kg of the ideal body weight (61.5 kg) for a 45 kg patient: 2.05 mg/kg of her own
    # weight, over the 1.5 mg/kg hard limit (the exact value is the dosing core's).
    assert detail["bolus_mg_per_kg"] == pytest.approx(2.17, abs=0.01)
    assert detail["limit"] == 1.5 and detail["limit_unit"] == "mg/kg"
    assert detail["bound"] == "upper" and "Foo 2021" in detail["limit_source"]
    assert detail["weight_id"] == weight.pk and detail["weight_kg"] == "45.0"
    assert detail["refused"] == error.value.message


@pytest.mark.parametrize("case", ["no_eligibility", "weight_changed", "soft_without_reason"])
def test_a_refused_plan_saves_nothing_and_is_audited(ready, users, patient, case):
    physician = users[Role.PHYSICIAN]
    protocol_id, weight_id, field = "ket-crps-outpatient", None, None
    if case == "no_eligibility":
        decide_eligibility(ready, "ketamine", physician, final="not_eligible")
    elif case == "weight_changed":
        weight_id = preview_plan(ready, protocol_id).weight.weight.pk
        set_weight(ready, "95.0", users[Role.NURSE])
    else:
        protocol_id, field = "lid-5mgkg-60min", "soft_limit_reason"
        heavier(ready, users)  # above the per-kg soft limit
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError) as error:
        create(ready, physician, protocol_id, weight_id=weight_id)
    assert error.value.field == field
    assert not TreatmentPlan.objects.exists() and not PlannedSession.objects.exists()
    event = audited_once(before, service="do_create_plan", outcome=Outcome.DENIED, patient=ready)
    assert event.detail["protocol_id"] == protocol_id


def test_an_unknown_protocol_is_refused_on_its_field(ready, users):
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError) as error:
        do_create_plan(
            request_as(users[Role.PHYSICIAN]),
            ready,
            protocol_id="no-such-protocol",
            sessions=1,
            soft_limit_reason="",
            expected_weight_id=None,
        )
    assert error.value.field == "protocol_id"
    audited_once(before, service="do_create_plan", outcome=Outcome.DENIED, patient=ready)


@pytest.fixture
def soft(ready, users) -> TreatmentPlan:
    return create(
        heavier(ready, users), users[Role.PHYSICIAN], "lid-5mgkg-60min", reason="Refractory PHN"
    )


@pytest.mark.parametrize("case", ["own_plan", "not_awaiting", "not_eligible", "no_consent"])
def test_a_refused_cosignature_changes_nothing_and_is_audited(soft, ready, users, physician2, case):
    signer = physician2
    if case == "own_plan":
        signer = users[Role.PHYSICIAN]
    elif case == "not_awaiting":
        do_cancel_plan(request_as(users[Role.PHYSICIAN]), soft.pk, soft.version, "duplicate")
    elif case == "not_eligible":
        decide_eligibility(ready, "lidocaine", users[Role.PHYSICIAN], final="not_eligible")
    else:
        # A consent no longer in force (here withdrawn behind the service's back).
        TreatmentConsent.objects.create(
            **{
                f.name: getattr(soft.consent, f.name)
                for f in TreatmentConsent._meta.concrete_fields
                if f.name not in ("id", "decision", "withdraws")
            },
            decision=TreatmentConsentDecision.WITHDRAWN,
            withdraws=soft.consent,
        )
    soft.refresh_from_db()
    version, status = soft.version, soft.status
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError):
        do_cosign_plan(request_as(signer), soft.pk, version)
    soft.refresh_from_db()
    assert soft.version == version and soft.status == status and soft.cosigned_by is None
    event = audited_once(before, service="do_cosign_plan", outcome=Outcome.DENIED, patient=ready)
    assert event.object_type == "treatmentplan" and event.object_id == str(soft.pk)
    assert event.action == Action.UPDATE


@pytest.mark.parametrize("case", ["already_cancelled", "no_reason"])
def test_a_refused_cancellation_changes_nothing_and_is_audited(soft, ready, users, case):
    physician = request_as(users[Role.PHYSICIAN])
    reason = "wrong protocol"
    if case == "already_cancelled":
        do_cancel_plan(physician, soft.pk, soft.version, "duplicate")
    else:
        reason = "  "
    soft.refresh_from_db()
    version, status = soft.version, soft.status
    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError):
        do_cancel_plan(physician, soft.pk, version, reason)
    soft.refresh_from_db()
    assert soft.version == version and soft.status == status
    audited_once(before, service="do_cancel_plan", outcome=Outcome.DENIED, patient=ready)


# --- conflicts: the event must outlive the rolled-back transaction --------------------------------
# Here the service's transaction is a savepoint of the test's: an event written inside it (as the
# old stale co-signature and cancellation did) is rolled back with it and is not read back. The
# ``committed`` variants run the same on really committed rows (PostgreSQL, file SQLite).


def stale_cosignature(soft, ready, users, physician2) -> None:
    do_cancel_plan(request_as(users[Role.PHYSICIAN]), soft.pk, 1, "wrong protocol")
    before = AuditEvent.objects.count()
    with pytest.raises(PlanConflict) as error:
        do_cosign_plan(request_as(physician2), soft.pk, 1, "agreed")
    assert error.value.plan.pk == soft.pk and error.value.plan.status == PlanStatus.CANCELLED
    soft.refresh_from_db()
    assert soft.status == PlanStatus.CANCELLED and soft.cosigned_by is None and soft.version == 2
    event = audited_once(before, service="do_cosign_plan", outcome=Outcome.CONFLICT, patient=ready)
    assert event.detail["expected_version"] == 1 and event.detail["current_version"] == 2
    assert event.detail["changes"] == ["status"]
    assert event.object_type == "treatmentplan" and event.object_id == str(soft.pk)
    assert event.actor == physician2 and event.action == Action.UPDATE


def stale_cancellation(soft, ready, users, physician2) -> None:
    do_cosign_plan(request_as(physician2), soft.pk, 1)
    before = AuditEvent.objects.count()
    with pytest.raises(PlanConflict):
        do_cancel_plan(request_as(users[Role.PHYSICIAN]), soft.pk, 1, "second thoughts")
    soft.refresh_from_db()
    assert soft.status == PlanStatus.ACTIVE and soft.cancelled_by is None and soft.version == 2
    event = audited_once(before, service="do_cancel_plan", outcome=Outcome.CONFLICT, patient=ready)
    assert event.detail["expected_version"] == 1 and event.detail["current_version"] == 2
    assert event.actor == users[Role.PHYSICIAN]


def test_a_stale_cosignature_is_a_conflict_whose_audit_survives(soft, ready, users, physician2):
    stale_cosignature(soft, ready, users, physician2)


def test_a_stale_cancellation_is_a_conflict_whose_audit_survives(soft, ready, users, physician2):
    stale_cancellation(soft, ready, users, physician2)


@skip_unless_races_can_run()
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("committed_db")
def test_committed_a_stale_cosignature_audit_survives(soft, ready, users, physician2):
    stale_cosignature(soft, ready, users, physician2)


@skip_unless_races_can_run()
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("committed_db")
def test_committed_a_stale_cancellation_audit_survives(soft, ready, users, physician2):
    stale_cancellation(soft, ready, users, physician2)


# --- roles --------------------------------------------------------------------------------------


def _calls(users, plan: TreatmentPlan):
    return {
        "add_fee_item": lambda actor: do_add_fee_item(actor, fee()),
        "deactivate_fee_item": lambda actor: do_deactivate_fee_item(
            actor, FeeItem.objects.first().pk
        ),
        "record_treatment_consent": lambda actor: do_record_treatment_consent(
            actor,
            plan.patient,
            consent_input("ket-crps-outpatient", 10, users[Role.FRONT_DESK]),
        ),
        "withdraw_treatment_consent": lambda actor: do_withdraw_treatment_consent(
            actor, plan.consent, "changed her mind"
        ),
        "create_plan": lambda actor: create(plan.patient, actor.user, "ket-crps-outpatient"),
        "cosign_plan": lambda actor: do_cosign_plan(actor, plan.pk, plan.version),
        "cancel_plan": lambda actor: do_cancel_plan(actor, plan.pk, plan.version, "because"),
    }


def test_every_service_has_its_role_rule_and_is_called_here():
    from painclinic.web.treatments import services

    names = {n.removeprefix("do_") for n in vars(services) if n.startswith("do_")}
    table = {n for n, _ in ROLES.items() if not n.startswith(("view_", "list_"))}
    assert names == table == set(_calls({}, None))
    for name in names:
        assert getattr(services, f"do_{name}").allowed_roles == getattr(ROLES, name)


@pytest.mark.parametrize("role", [Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.PATIENT])
def test_a_wrong_role_calling_a_service_directly_is_refused_and_audited(soft, users, role):
    """The service checks the role itself (consent, withdrawal and the fee schedule had no check
    in the service before: only the page's role gate)."""
    plan = soft
    for name, call in _calls(users, plan).items():
        if role in getattr(ROLES, name):
            continue
        before = AuditEvent.objects.count()
        rows = (
            TreatmentPlan.objects.count(),
            TreatmentConsent.objects.count(),
            FeeItem.objects.count(),
        )
        with pytest.raises(PermissionDenied) as error:
            call(request_as(users[role]))
        assert isinstance(error.value, RoleRefused), name
        assert rows == (
            TreatmentPlan.objects.count(),
            TreatmentConsent.objects.count(),
            FeeItem.objects.count(),
        )
        event = audited_once(before, service=f"do_{name}", outcome=Outcome.DENIED)
        assert event.action == Action.ACCESS_DENIED and event.actor == users[role], name
    plan.refresh_from_db()
    assert plan.status == PlanStatus.AWAITING_COSIGN and plan.version == 1


def test_the_fee_schedule_is_billing_and_clinic_admin_only(users):
    assert ROLES.add_fee_item == {Role.BILLING, Role.CLINIC_ADMIN}
    with pytest.raises(PermissionDenied):
        do_add_fee_item(request_as(users[Role.PHYSICIAN]), fee())
    assert not FeeItem.objects.exists()
    created = do_add_fee_item(request_as(users[Role.CLINIC_ADMIN]), fee(code="ADMIN-FEE"))
    assert created.created_by == users[Role.CLINIC_ADMIN]
    assert created.created_at <= timezone.now()
