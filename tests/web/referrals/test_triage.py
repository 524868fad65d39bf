"""Triage: the queue, accept and register, link to a patient already registered, decline,
mark duplicate; and the letter served to the triage roles only."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.lib.service import Actor, Channel, Refused
from painclinic.web.patients.models import ExternalPhysician, Patient
from painclinic.web.referrals import letters
from painclinic.web.referrals.forms import ReferralEntry
from painclinic.web.referrals.letters import Letter
from painclinic.web.referrals.models import Referral, Status
from painclinic.web.referrals.services import do_submit_referral
from tests.conftest import make_patient
from tests.web.referrals.factories import PDF_BYTES, PNG_BYTES, health_card, pdf, physician_data

pytestmark = pytest.mark.django_db

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def referral(client) -> Referral:
    client.post(reverse("referrals:physician_form"), physician_data() | {"letter": pdf()})
    return Referral.objects.get()


def accept_data(**override):
    data = {
        "action": "accept",
        "legal_given_name": "Marguerite",
        "legal_family_name": "Tremblay",
        "date_of_birth": "1968-03-14",
        "sex_at_birth": "female",
        "health_card_number": health_card(),
        "health_card_version": "kl",
        "phone": "647-555-0100",
        "email": "m.tremblay@example.com",
        "address_line": "88 Elm Ave",
        "city": "Toronto",
        "postal_code": "M4W 1N4",
    }
    data.update(override)
    return data


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_queue_lists_new_referrals_oldest_first(client_for, referral):
    older = Referral.objects.create(
        kind="self",
        given_name="Early",
        family_name="Bird",
        date_of_birth=dt.date(1980, 1, 1),
        condition="fibromyalgia",
        submitted_at=timezone.now() - dt.timedelta(days=2),
    )
    Referral.objects.create(
        kind="self",
        status=Status.DECLINED,
        given_name="Gone",
        family_name="Already",
        date_of_birth=dt.date(1980, 1, 1),
        condition="other",
        submitted_at=timezone.now() - dt.timedelta(days=3),
        triaged_at=timezone.now(),
    )
    page = client_for(F).get(reverse("referrals:queue")).content.decode()
    waiting = page.split("Recently triaged")[0]
    assert waiting.index(older.patient_name) < waiting.index(referral.patient_name)
    assert "Already, Gone" not in waiting
    assert "Fibromyalgia" in page and "Dr. Amara Osei" in page


def test_the_referral_page_shows_the_details_and_no_internal_codes(client_for, referral):
    page = client_for(F).get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    text = visible_text(page)
    assert "Complex regional pain syndrome (CRPS)" in text and "Routine" in text
    assert "Download the referral letter" in page
    for code in ("crps", "pdn", "phn", "frontdesk", "blood_pressure", "substance_use", "unsure"):
        assert not re.search(rf"(?<![\w-]){code}(?![\w-])", text), code


def test_the_letter_is_served_to_the_triage_roles_as_an_audited_attachment(
    client_for, referral, client
):
    url = reverse("referrals:letter", args=[referral.pk])
    for role in (F, P):
        staff = client_for(role)
        before = AuditEvent.objects.count()
        response = staff.get(url)
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert 'filename="letter to the clinic.pdf"' in response["Content-Disposition"]
        assert response["Content-Type"] == "application/pdf"
        assert b"".join(response.streaming_content) == PDF_BYTES
        event = AuditEvent.objects.order_by("-sequence").first()
        assert AuditEvent.objects.count() == before + 1
        assert event.detail == {"read": "letter"} and event.object_id == str(referral.pk)
    for role in (N, B, A, T):
        assert client_for(role).get(url).status_code == 403, role
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]


def test_a_self_referral_has_no_letter_to_download(client_for):
    referral = Referral.objects.create(
        kind="self",
        given_name="No",
        family_name="Letter",
        date_of_birth=dt.date(1980, 1, 1),
        condition="other",
        submitted_at=timezone.now(),
    )
    assert client_for(F).get(reverse("referrals:letter", args=[referral.pk])).status_code == 404


def test_accept_registers_the_patient_with_the_corrected_demographics(client_for, referral, users):
    response = client_for(F).post(reverse("referrals:detail", args=[referral.pk]), accept_data())
    patient = Patient.objects.get(legal_family_name="Tremblay")
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:detail", args=[patient.pk])
    assert patient.date_of_birth == dt.date(1968, 3, 14) and patient.sex_at_birth == "female"
    assert patient.health_card_number == health_card() and patient.health_card_version == "KL"
    assert patient.phone == "647-555-0100"  # corrected at the front desk
    assert patient.city == "Toronto" and patient.postal_code == "M4W 1N4"
    physician = patient.referring_physician
    assert physician.ohip_billing_number == "123456" and physician.name == "Dr. Amara Osei"
    referral.refresh_from_db()
    assert referral.status == Status.ACCEPTED and referral.patient == patient
    assert referral.triaged_by == users[F] and referral.triaged_at is not None
    assert AuditEvent.objects.filter(patient=patient, category="demographics").exists()
    queue = client_for(F).get(reverse("referrals:queue")).content.decode()
    assert (
        "Waiting" not in queue.split("Recently triaged")[0] or "No referrals are waiting" in queue
    )


def test_a_second_referral_from_the_same_physician_reuses_their_registry_entry(client_for):
    for family, first_nine in (("One", "111111118"), ("Two", "222222226")):
        referral = Referral.objects.create(
            kind="physician",
            referrer_name="Dr. Amara Osei",
            referrer_billing_number="123456",
            given_name="Pat",
            family_name=family,
            date_of_birth=dt.date(1980, 1, 1),
            condition="other",
            submitted_at=timezone.now(),
        )
        data = accept_data(
            legal_given_name="Pat",
            legal_family_name=family,
            date_of_birth="1980-01-01",
            health_card_number=health_card(first_nine),
        )
        client_for(F).post(reverse("referrals:detail", args=[referral.pk]), data)
    assert ExternalPhysician.objects.filter(ohip_billing_number="123456").count() == 1
    assert Patient.objects.filter(referring_physician__ohip_billing_number="123456").count() == 2


def test_a_patient_with_the_same_health_card_is_shown_and_linked_instead(client_for, referral):
    existing = make_patient("Marguerite", "Tremblay-Roy", health_card_number=health_card())
    url = reverse("referrals:detail", args=[referral.pk])
    page = client_for(F).get(url).content.decode()
    assert "Possibly already registered" in page and "Tremblay-Roy" in page
    assert "Link to existing patient" in page
    refused = client_for(F).post(url, accept_data())
    assert refused.status_code == 400
    assert "already registered: link the referral" in refused.content.decode()
    assert 'value="647-555-0100"' in refused.content.decode()  # the corrections kept
    assert Patient.objects.count() == 1
    linked = client_for(F).post(url, {"action": "link", "patient_id": existing.pk})
    assert linked["Location"] == reverse("patients:detail", args=[existing.pk])
    referral.refresh_from_db()
    assert referral.status == Status.ACCEPTED and referral.patient == existing
    assert Patient.objects.count() == 1


def test_the_same_name_and_birth_date_needs_the_front_desks_confirmation(client_for, referral):
    make_patient("Marguerite", "Tremblay", date_of_birth=dt.date(1968, 3, 14))
    url = reverse("referrals:detail", args=[referral.pk])
    refused = client_for(F).post(url, accept_data())
    assert refused.status_code == 400 and "tick the box" in refused.content.decode()
    assert Patient.objects.count() == 1
    client_for(F).post(url, accept_data(confirm_different_person="on"))
    assert Patient.objects.count() == 2


def test_decline_needs_a_reason_and_keeps_it(client_for, referral, users):
    url = reverse("referrals:detail", args=[referral.pk])
    refused = client_for(P).post(url, {"action": "decline", "reason": ""})
    assert refused.status_code == 400
    assert "Say why the referral is declined." in refused.content.decode()
    assert Referral.objects.get().status == Status.NEW
    client_for(P).post(url, {"action": "decline", "reason": "Outside the clinic's catchment."})
    referral.refresh_from_db()
    assert referral.status == Status.DECLINED and referral.triaged_by == users[P]
    assert referral.decision_reason == "Outside the clinic's catchment."
    assert Patient.objects.count() == 0
    page = client_for(F).get(url).content.decode()
    assert "Outside the clinic&#x27;s catchment." in page and "Accept and register" not in page


def test_mark_duplicate_and_a_second_triage_changes_nothing(client_for, referral, users):
    url = reverse("referrals:detail", args=[referral.pk])
    client_for(F).post(url, {"action": "duplicate", "reason": "Same as last week's fax."})
    referral.refresh_from_db()
    assert referral.status == Status.DUPLICATE
    again = client_for(P).post(url, {"action": "decline", "reason": "x"}, follow=True)
    assert "already triaged" in again.content.decode()
    referral.refresh_from_db()
    assert referral.status == Status.DUPLICATE and referral.triaged_by == users[F]


def test_the_service_refuses_a_letter_that_is_not_a_pdf_and_writes_no_file(users, data_dir):
    from painclinic.web.accounts.services import system_user

    actor = Actor(system_user(), Channel.WEB, "/refer/", "203.0.113.5")
    entry = ReferralEntry(
        kind="physician",
        given_name="A",
        family_name="B",
        date_of_birth=dt.date(1970, 1, 1),
        phone="416-555-0100",
        condition="crps",
    )
    with pytest.raises(Refused) as refusal:
        do_submit_referral(actor, entry, Letter(PNG_BYTES, "x.pdf"))
    assert refusal.value.field == "letter"
    assert not (data_dir / "referrals").exists() or not any((data_dir / "referrals").iterdir())
    assert Referral.objects.count() == 0


def test_a_failed_save_removes_the_letter_it_wrote(users, data_dir, monkeypatch):
    from painclinic.web.accounts.services import system_user

    actor = Actor(system_user(), Channel.WEB, "/refer/", "203.0.113.5")
    entry = ReferralEntry(
        kind="physician",
        given_name="A",
        family_name="B",
        date_of_birth=dt.date(1970, 1, 1),
        phone="416-555-0100",
        condition="crps",
    )

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Referral.objects, "create", broken)
    with pytest.raises(RuntimeError):
        do_submit_referral(actor, entry, Letter(PDF_BYTES, "x.pdf"))
    assert not any((data_dir / "referrals").iterdir())
    assert letters.path_of("../../etc/passwd") is None


def test_a_self_referrals_prescreen_reads_as_questions_and_answers(client_for, client):
    from tests.web.referrals.factories import self_data

    client.post(reverse("referrals:self_form"), self_data(q_liver="yes"))
    referral = Referral.objects.get()
    page = client_for(P).get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    text = visible_text(page)
    assert "Do you have liver disease (for example cirrhosis or hepatitis)?" in text
    assert '<strong class="flagged">Yes</strong>' in page
    assert '<strong class="flagged">Not sure</strong>' in page  # the heart question
    assert "Français (French)" in text and "May be contacted" in text
    for code in ("q_liver", "substance_use", "unsure", "phn", "fr"):
        assert not re.search(rf"(?<![\w-]){code}(?![\w-])", text), code
