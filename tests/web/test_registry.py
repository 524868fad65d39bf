"""Patient registry: validation at the boundary, duplicates, amendments, conflicts, search."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.patients.forms import weight_plausibility_problem
from painclinic.web.patients.healthcard import health_number_problem
from painclinic.web.patients.models import Patient, PatientRevision, WeightMeasurement
from tests.conftest import make_patient


def textbook_luhn_valid(number: str) -> bool:
    """Luhn as usually stated: from the rightmost digit, double every second digit."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return total % 10 == 0


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_health_number_check_digit_agrees_with_textbook_luhn(number):
    assert (health_number_problem(number) is None) == textbook_luhn_valid(number)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("9876543217", True),
        ("9876543218", False),  # check digit off by one
        ("9876543271", False),  # last two digits transposed
        ("987654321", False),  # nine digits
        ("98765432170", False),  # eleven digits
        ("98765A3217", False),
    ],
)
def test_health_number_examples(number, valid):
    assert (health_number_problem(number) is None) is valid


def registration_data(**overrides) -> dict[str, str]:
    data = {
        "legal_given_name": "Marie",
        "legal_family_name": "Curie",
        "preferred_name": "",
        "date_of_birth": "1967-11-07",
        "sex_at_birth": "female",
        "gender": "",
        "health_card_number": "9876 543 217",
        "health_card_version": "ab",
        "phone": "(416) 555-0100",
        "email": "",
        "address_line": "",
        "city": "",
        "province": "ON",
        "postal_code": "m5v3l9",
        "emergency_contact_name": "",
        "emergency_contact_relationship": "",
        "emergency_contact_phone": "",
        "referring_physician": "",
        "family_physician": "",
        "weight_kg": "64.5",
        "height_cm": "165",
        "measured_on": "",
    }
    data.update(overrides)
    return data


def test_front_desk_registers_a_patient_with_a_first_weight(client_for):
    response = client_for(Role.FRONT_DESK).post(reverse("patients:register"), registration_data())
    assert response.status_code == 302
    patient = Patient.objects.get()
    assert patient.health_card_number == "9876543217"
    assert patient.health_card_version == "AB"
    assert patient.postal_code == "M5V 3L9"
    weight = patient.weights.get()
    assert weight.weight_kg == Decimal("64.5")
    assert weight.measured_on == timezone.localdate()
    actions = list(AuditEvent.objects.filter(patient=patient).values_list("category", "action"))
    assert ("demographics", "create") in actions and ("weight", "create") in actions


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("health_card_number", "9876543218", "check digit"),
        ("date_of_birth", "2999-01-01", "future"),
        ("weight_kg", "19.9", "20"),
        ("weight_kg", "300.1", "300"),
        ("postal_code", "12345", "postal code"),
        ("legal_family_name", "", "required"),
    ],
)
def test_bad_registration_names_the_field_and_saves_nothing(client_for, field, value, message):
    client = client_for(Role.FRONT_DESK)
    before = AuditEvent.objects.count()
    response = client.post(reverse("patients:register"), registration_data(**{field: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]).lower()
    assert Patient.objects.count() == 0
    assert WeightMeasurement.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_date_of_birth_more_than_120_years_ago_is_refused(client_for, time_machine):
    time_machine.move_to(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
    client = client_for(Role.FRONT_DESK)
    too_old = client.post(
        reverse("patients:register"), registration_data(date_of_birth="1906-05-31")
    )
    assert "date_of_birth" in too_old.context["form"].errors
    just_ok = client.post(
        reverse("patients:register"), registration_data(date_of_birth="1906-06-01")
    )
    assert just_ok.status_code == 302


def test_a_duplicate_health_card_is_refused_and_points_to_the_existing_record(client_for, patient):
    response = client_for(Role.FRONT_DESK).post(
        reverse("patients:register"),
        registration_data(health_card_number=patient.health_card_number),
    )
    errors = response.context["form"].errors["health_card_number"]
    assert f"#{patient.pk}" in errors[0]
    assert Patient.objects.count() == 1


def test_same_name_and_birth_date_needs_explicit_confirmation(client_for, patient):
    client = client_for(Role.FRONT_DESK)
    data = registration_data(
        legal_given_name=patient.legal_given_name,
        legal_family_name=patient.legal_family_name,
        date_of_birth=patient.date_of_birth.isoformat(),
        health_card_number="",
    )
    response = client.post(reverse("patients:register"), data)
    assert "confirm_possible_duplicate" in response.context["form"].errors
    data["confirm_possible_duplicate"] = "on"
    assert client.post(reverse("patients:register"), data).status_code == 302
    assert Patient.objects.count() == 2


@pytest.mark.parametrize(
    ("new_kg", "needs_confirmation"),
    [("88.0", False), ("88.1", True), ("72.0", False), ("71.9", True), ("220.0", True)],
)
def test_weight_change_over_ten_percent_needs_confirmation(
    client_for, patient, new_kg, needs_confirmation
):
    # The fixture's last weight is 80.0 kg: 10% either side is 72.0 to 88.0 kg.
    client = client_for(Role.NURSE)
    url = reverse("patients:weight_add", kwargs={"patient_id": patient.pk})
    today = timezone.localdate().isoformat()
    response = client.post(url, {"weight_kg": new_kg, "measured_on": today})
    if needs_confirmation:
        assert response.status_code == 200
        assert "weight_kg" in response.context["form"].errors
        assert patient.weights.count() == 1
        confirmed = client.post(
            url, {"weight_kg": new_kg, "measured_on": today, "confirm_weight_change": "on"}
        )
        assert confirmed.status_code == 302
    else:
        assert response.status_code == 302
    assert patient.weights.count() == 2


def test_a_weight_typed_in_pounds_is_explained():
    message = weight_plausibility_problem(Decimal("220"), Decimal("100"), 10)
    assert message is not None
    assert "pounds" in message and "99.8 kg" in message  # 220 lb = 99.79 kg


@given(
    last=st.decimals(min_value=20, max_value=300, places=1),
    new=st.decimals(min_value=20, max_value=300, places=1),
)
def test_weight_rule_fires_exactly_beyond_ten_percent(last, new):
    fires = weight_plausibility_problem(new, last, 10) is not None
    assert fires == (abs(new - last) * 100 > 10 * last)


def test_a_weight_correction_keeps_the_original_readable(client_for, patient):
    client = client_for(Role.NURSE)
    original = patient.weights.get()
    url = reverse(
        "patients:weight_correct", kwargs={"patient_id": patient.pk, "weight_id": original.pk}
    )
    response = client.post(
        url,
        {
            "weight_kg": "80.5",
            "measured_on": original.measured_on.isoformat(),
            "correction_reason": "Scale not zeroed",
        },
    )
    assert response.status_code == 302
    assert WeightMeasurement.objects.filter(pk=original.pk, weight_kg=Decimal("80.0")).exists()
    correction = WeightMeasurement.objects.get(correction_of=original)
    assert correction.weight_kg == Decimal("80.5")
    page = client.get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    assert page.context["current_weight"] == correction
    assert b"Scale not zeroed" in page.content and b"80 kg" in page.content


def test_an_edit_keeps_the_previous_version(client_for, patient):
    client = client_for(Role.FRONT_DESK)
    url = reverse("patients:edit", kwargs={"patient_id": patient.pk})
    form = client.get(url).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data["legal_family_name"] = "King"
    assert client.post(url, data).status_code == 302
    patient.refresh_from_db()
    assert (patient.legal_family_name, patient.version) == ("King", 2)
    revision = PatientRevision.objects.get(patient=patient)
    assert revision.snapshot["legal_family_name"] == "Lovelace"
    assert revision.changed_fields == ["legal_family_name"]
    history = client.get(reverse("patients:history", kwargs={"patient_id": patient.pk}))
    assert b"Lovelace" in history.content


def test_concurrent_edits_end_in_a_visible_conflict(client_for, patient):
    first, second = client_for(Role.FRONT_DESK), client_for(Role.NURSE)
    url = reverse("patients:edit", kwargs={"patient_id": patient.pk})
    form_a = first.get(url).context["form"]
    form_b = second.get(url).context["form"]
    data_a = {name: form_a[name].value() or "" for name in form_a.fields}
    data_b = {name: form_b[name].value() or "" for name in form_b.fields}
    data_a["phone"] = "(416) 555-1111"
    data_b["email"] = "ada@example.org"
    assert first.post(url, data_a).status_code == 302
    response = second.post(url, data_b)
    assert response.status_code == 409
    assert b"Someone else saved this record" in response.content
    assert b"phone" in response.content
    patient.refresh_from_db()
    assert patient.phone == "(416) 555-1111" and patient.email == ""
    # The refused save is on record (written after the abandoned transaction).
    refused = AuditEvent.objects.filter(patient=patient, outcome="conflict").get()
    assert refused.actor.role == Role.NURSE
    assert refused.detail["expected_version"] == 1 and refused.detail["current_version"] == 2
    assert refused.detail["changes"] == ["phone"]  # what the other person changed
    assert refused.detail["service"] == "do_update_patient"


def test_a_failure_mid_save_leaves_nothing_behind(client_for, patient):
    client = client_for(Role.NURSE)
    url = reverse("patients:weight_add", kwargs={"patient_id": patient.pk})
    before_events = AuditEvent.objects.count()
    with (
        mock.patch("painclinic.web.patients.services.audit", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        client.post(url, {"weight_kg": "81", "measured_on": timezone.localdate().isoformat()})
    assert patient.weights.count() == 1
    # Only the read of the record (before the failing write) was audited.
    assert AuditEvent.objects.count() == before_events + 1


@pytest.mark.parametrize(
    "query",
    [
        "Lovelace",
        "love",
        "ada lov",
        "1970-05-17",
        "9876543217",
        "9876-543-217",
        "4165550142",
        "0142",
    ],
)
def test_search_finds_by_name_birth_date_health_number_and_phone(client_for, patient, query):
    make_patient("Grace", "Hopper", date_of_birth=dt.date(1960, 1, 1), phone="(613) 555-9999")
    response = client_for(Role.FRONT_DESK).get(reverse("patients:search"), {"q": query})
    assert [p.pk for p in response.context["results"]] == [patient.pk]


def test_search_ignores_accents_and_case(client_for):
    record = make_patient("Chloé", "Côté")
    client = client_for(Role.FRONT_DESK)
    for query in ("cote", "CÔTÉ", "chloe cot"):
        response = client.get(reverse("patients:search"), {"q": query})
        assert [p.pk for p in response.context["results"]] == [record.pk], query


def test_stored_script_is_escaped(client_for):
    record = make_patient("<script>alert(1)</script>", "Tables")
    client = client_for(Role.FRONT_DESK)
    for url in (
        reverse("patients:detail", kwargs={"patient_id": record.pk}),
        reverse("patients:search") + "?q=Tables",
    ):
        body = client.get(url).content
        assert b"<script>alert(1)</script>" not in body
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in body


def _bulk_patients(count: int, seed: int) -> None:
    rng = random.Random(seed)
    batch = [
        Patient(
            legal_given_name=f"Given{rng.randint(0, 10**6)}",
            legal_family_name="Smith",
            date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 20000)),
            sex_at_birth="female",
        )
        for _ in range(count)
    ]
    for patient in batch:
        patient.refresh_derived_fields()
    Patient.objects.bulk_create(batch)


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


def test_search_and_detail_query_counts_do_not_grow_with_patients(client_for, patient):
    client = client_for(Role.FRONT_DESK)
    detail = reverse("patients:detail", kwargs={"patient_id": patient.pk})
    _bulk_patients(5, seed=1)
    small = (_queries(client, reverse("patients:search"), {"q": "Smith"}), _queries(client, detail))
    _bulk_patients(200, seed=2)
    large = (_queries(client, reverse("patients:search"), {"q": "Smith"}), _queries(client, detail))
    assert small == large
