"""Registry and account services called directly, as a command or a worker calls them: the same
checks, refusals and audit events as through the pages, with no view involved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.services import StaffAccount, do_change_role, do_create_staff
from painclinic.web.audit.models import AuditEvent
from painclinic.web.lib.service import Actor, Channel, Refused, RoleRefused
from painclinic.web.patients.models import Consent, ConsentDecision, ConsentKind, Patient
from painclinic.web.patients.models import WeightMeasurement as Weight
from painclinic.web.patients.services import (
    ConsentEntry,
    Demographics,
    EditConflict,
    WeightEntry,
    demographics_snapshot,
    do_correct_weight,
    do_record_consent,
    do_record_weight,
    do_register_patient,
    do_update_patient,
)
from tests.conftest import actor_as

pytestmark = pytest.mark.django_db


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-sequence").first()


def entry(kg: str, days_ago: int = 0, **extra) -> WeightEntry:
    return WeightEntry(
        weight_kg=Decimal(kg), measured_on=timezone.localdate() - dt.timedelta(days_ago), **extra
    )


def demographics_of(patient: Patient, **changes) -> Demographics:
    values = {name: getattr(patient, name) for name in Demographics.__dataclass_fields__}
    return Demographics(**(values | changes))


def test_a_command_registers_a_patient_with_a_first_weight(users):
    nurse = actor_as(users[Role.NURSE], "painclinic import")
    patient = do_register_patient(
        nurse,
        Demographics("Grace", "Hopper", dt.date(1956, 12, 9), "female", phone="416-555-0100"),
        entry("61.5"),
    )
    assert patient.weights.get().weight_kg == Decimal("61.5")
    created = AuditEvent.objects.filter(patient=patient).order_by("sequence")
    assert [e.category for e in created] == ["demographics", "weight"]
    assert {(e.channel, e.origin) for e in created} == {("cli", "painclinic import")}


def test_a_stale_edit_is_refused_and_its_conflict_survives_the_rollback(users, patient):
    physician, nurse = actor_as(users[Role.PHYSICIAN]), actor_as(users[Role.NURSE])
    version = patient.version
    do_update_patient(physician, patient.pk, version, demographics_of(patient, phone="1"))
    before = demographics_snapshot(Patient.objects.get(pk=patient.pk))
    with pytest.raises(EditConflict) as error:
        do_update_patient(nurse, patient.pk, version, demographics_of(patient, email="a@b.ca"))
    assert error.value.changed == ["phone"]
    assert demographics_snapshot(Patient.objects.get(pk=patient.pk)) == before  # nothing saved
    conflict = last_event()
    assert conflict.outcome == "conflict" and conflict.actor == users[Role.NURSE]
    assert conflict.patient_id == patient.pk and conflict.object_type == "patient"
    assert conflict.detail["expected_version"] == version
    assert conflict.detail["current_version"] == version + 1
    assert conflict.detail["service"] == "do_update_patient"


@pytest.mark.parametrize(
    ("kg", "why"),
    [("800", "between 20 and 300 kg"), ("19.9", "between 20 and 300 kg"), ("176", "differs by")],
)
def test_an_implausible_weight_is_refused_naming_the_field_and_audited(users, patient, kg, why):
    nurse = actor_as(users[Role.NURSE])
    do_record_weight(nurse, patient, entry("80.0", days_ago=3))
    count = Weight.objects.count()
    with pytest.raises(Refused, match=why) as error:
        do_record_weight(nurse, patient, entry(kg))
    assert error.value.field == "weight_kg"
    assert Weight.objects.count() == count
    refused = last_event()
    assert refused.outcome == "denied" and refused.patient_id == patient.pk
    assert (
        refused.detail["service"] == "do_record_weight" and refused.detail["field"] == "weight_kg"
    )


def test_a_confirmed_large_change_is_recorded(users, patient):
    nurse = actor_as(users[Role.NURSE])
    do_record_weight(nurse, patient, entry("80.0", days_ago=3))
    weight = do_record_weight(nurse, patient, entry("60.0", confirmed_large_change=True))
    assert weight.weight_kg == Decimal("60.0")
    assert last_event().detail["confirmed_large_change"] is True


def test_a_weight_is_corrected_once_and_the_second_correction_is_refused(users, patient):
    nurse = actor_as(users[Role.NURSE])
    original = do_record_weight(nurse, patient, entry("80.0"))
    do_correct_weight(nurse, original, entry("81.0"), "scale not zeroed")
    with pytest.raises(Refused, match="already been corrected"):
        do_correct_weight(nurse, original, entry("82.0"), "again")
    assert last_event().detail["service"] == "do_correct_weight"
    with pytest.raises(Refused) as error:
        do_correct_weight(nurse, original, entry("82.0"), "  ")
    assert error.value.field == "correction_reason"


def test_treatment_consent_without_a_witness_is_refused_for_every_caller(users, patient):
    entry_ = ConsentEntry(
        kind=ConsentKind.TREATMENT,
        decision=ConsentDecision.GRANTED,
        decided_on=timezone.localdate(),
        document_version="v3",
    )
    count = Consent.objects.count()
    with pytest.raises(Refused) as error:
        do_record_consent(actor_as(users[Role.FRONT_DESK]), patient, entry_)
    assert error.value.field == "witness_name" and Consent.objects.count() == count
    assert last_event().detail["refused"] == "Treatment consent needs a witness."


def test_a_billing_user_cannot_record_a_weight_whoever_calls(users, patient):
    count = Weight.objects.count()
    with pytest.raises(RoleRefused):
        do_record_weight(actor_as(users[Role.BILLING]), patient, entry("70.0"))
    denied = last_event()
    assert denied.outcome == "denied" and denied.action == "access_denied"
    assert denied.detail["service"] == "do_record_weight"
    assert Weight.objects.count() == count


def test_the_same_action_through_a_page_a_command_and_a_worker_is_the_same_event(
    users, patient, client_for
):
    """One service, one check, one audit: only the channel and the origin differ."""
    nurse = users[Role.NURSE]
    url = reverse("patients:weight_add", kwargs={"patient_id": patient.pk})
    response = client_for(Role.NURSE).post(
        url, {"weight_kg": "78.0", "measured_on": timezone.localdate().isoformat()}
    )
    assert response.status_code == 302
    do_record_weight(Actor.for_user(nurse, Channel.CLI, "painclinic weigh"), patient, entry("78.2"))
    do_record_weight(Actor.for_user(nurse, Channel.WORKER, "import: scale"), patient, entry("78.1"))
    events = list(
        AuditEvent.objects.filter(patient=patient, category="weight", action="create").order_by(
            "sequence"
        )
    )
    assert [(e.channel, e.origin) for e in events] == [
        ("web", url),
        ("cli", "painclinic weigh"),
        ("worker", "import: scale"),
    ]
    assert {(e.actor_id, e.action, e.outcome, e.object_type) for e in events} == {
        (nurse.pk, "create", "success", "weightmeasurement")
    }
    # And the refusal is the same too: billing is turned away by the page and by the service.
    assert client_for(Role.BILLING).post(url, {}).status_code == 403
    with pytest.raises(PermissionDenied):
        do_record_weight(Actor.for_user(users[Role.BILLING], Channel.WORKER), patient, entry("1"))


def test_staff_accounts_take_a_staff_role_and_nobody_changes_their_own(users):
    admin = actor_as(users[Role.CLINIC_ADMIN])
    account = StaffAccount("rn_new", "Rosa", "Nurse", Role.NURSE, "a-long-passphrase-9")
    created = do_create_staff(admin, account)
    assert created.check_password("a-long-passphrase-9") and created.role == Role.NURSE
    with pytest.raises(Refused) as taken:
        do_create_staff(admin, account)
    assert taken.value.field == "username"
    with pytest.raises(Refused):
        do_create_staff(admin, StaffAccount("sys2", "S", "S", Role.SYSTEM, "a-long-passphrase-9"))
    with pytest.raises(PermissionDenied):
        do_change_role(admin, users[Role.CLINIC_ADMIN], Role.NURSE, "promotion")
    assert last_event().detail["permission"] == "nobody changes their own role"
    with pytest.raises(RoleRefused):
        do_create_staff(actor_as(users[Role.NURSE]), account)
    assert User.objects.filter(username="rn_new").count() == 1
