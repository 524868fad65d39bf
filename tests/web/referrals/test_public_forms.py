"""The two public forms: what lands in the triage queue, what is refused, and that nothing
typed is lost and nothing is stored when a submission is refused."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from painclinic.web.audit.models import AuditEvent
from painclinic.web.referrals.models import AttemptOutcome, Referral, Status, SubmissionAttempt
from tests.conftest import make_patient
from tests.web.referrals.factories import (
    PDF_BYTES,
    PNG_BYTES,
    health_card,
    pdf,
    physician_data,
    self_data,
)

pytestmark = pytest.mark.django_db

PHYSICIAN = "referrals:physician_form"
SELF = "referrals:self_form"
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.pdf$")


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


def stored_files(data_dir: Path) -> list[Path]:
    folder = data_dir / "referrals"
    return sorted(folder.iterdir()) if folder.exists() else []


def send_physician(client: Client, letter=None, **override):
    data = physician_data(**override)
    data["letter"] = letter if letter is not None else pdf()
    return client.post(reverse(PHYSICIAN), data)


def test_both_forms_open_without_signing_in_and_show_no_personal_data(client):
    make_patient("Ada", "Lovelace")
    for name in (PHYSICIAN, SELF, "referrals:physician_thanks", "referrals:self_thanks"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "Lovelace" not in response.content.decode()


def test_a_physicians_referral_lands_in_the_queue_with_its_letter_stored_safely(client, data_dir):
    response = send_physician(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("referrals:physician_thanks")
    referral = Referral.objects.get()
    assert referral.status == Status.NEW and referral.kind == "physician"
    assert (referral.given_name, referral.family_name) == ("Marguerite", "Tremblay")
    assert referral.health_card_number == health_card()
    assert referral.postal_code == "M4W 1N4"
    assert referral.referrer_billing_number == "123456"
    # The letter: a random name under DATA_DIR/referrals, never the uploaded name.
    [stored] = stored_files(data_dir)
    assert STORED_NAME.match(stored.name) and stored.name == referral.letter_file
    assert "letter" not in stored.name
    assert stored.read_bytes() == PDF_BYTES
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for web_root in (settings.STATIC_ROOT, getattr(settings, "MEDIA_ROOT", "") or None):
        if web_root:
            assert not stored.resolve().is_relative_to(Path(web_root).resolve())
    assert referral.letter_original_name == "letter to the clinic.pdf"
    assert referral.letter_size_bytes == len(PDF_BYTES)
    assert referral.letter_sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    # The sender's address is kept only as a keyed hash.
    assert len(referral.client_ip_hash) == 64 and "127.0.0.1" not in referral.client_ip_hash
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.object_type == "referral" and event.object_id == str(referral.pk)


def test_a_self_referral_lands_in_the_queue_with_its_prescreen(client, data_dir):
    response = client.post(reverse(SELF), self_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("referrals:self_thanks")
    referral = Referral.objects.get()
    assert referral.kind == "self" and referral.status == Status.NEW
    assert referral.preferred_language == "fr" and referral.consent_to_contact
    assert referral.prescreen["heart"] == "unsure" and referral.prescreen["pregnancy"] == "no"
    assert referral.letter_file == "" and stored_files(data_dir) == []
    thanks = client.get(response["Location"]).content.decode()
    assert "will call within 3 business days" in thanks
    assert "do not decide" in thanks and "referral from your family doctor" in thanks


def test_bad_physician_input_names_each_field_keeps_what_was_typed_and_stores_nothing(
    client, data_dir
):
    before = AuditEvent.objects.filter(object_type="referral").count()
    response = send_physician(
        client,
        referrer_billing_number="12345",
        health_card_number="1234567890",
        referrer_name="",
        date_of_birth="2999-01-01",
        postal_code="12345",
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "An OHIP billing number has exactly 6 digits." in page
    assert "check digit is wrong" in page
    assert "The date of birth is in the future." in page
    assert "A Canadian postal code looks like A1A 1A1." in page
    assert "This field is required." in page  # the physician's name
    assert "choose the PDF file again" in page
    # Everything typed comes back.
    for typed in ("Marguerite", "Tremblay", "12345", "1234567890", "416-555-0101", "2999-01-01"):
        assert f'value="{typed}"' in page, typed
    assert "gabapentin 1800 mg daily 10 weeks" in page
    assert Referral.objects.count() == 0 and stored_files(data_dir) == []
    assert AuditEvent.objects.filter(object_type="referral").count() == before
    assert SubmissionAttempt.objects.get().outcome == AttemptOutcome.INVALID


def test_a_physicians_referral_needs_its_letter(client, data_dir):
    data = physician_data()
    response = client.post(reverse(PHYSICIAN), data)
    assert response.status_code == 400
    assert "Attach the referral letter as a PDF file." in response.content.decode()
    assert Referral.objects.count() == 0


def test_bad_self_referral_input_keeps_the_answers_and_stores_nothing(client, data_dir):
    data = self_data(consent_to_contact="", q_liver="", phone="call me", date_of_birth="1975-13-40")
    del data["consent_to_contact"]
    response = client.post(reverse(SELF), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Tick this box so the clinic may contact you." in page
    assert "Choose Yes, No or Not sure." in page
    assert "Type the phone number with digits only" in page
    assert "Type the date of birth as YYYY-MM-DD" in page
    assert 'value="Luc"' in page and 'value="luc.gagnon@example.com"' in page
    assert re.search(r'value="unsure"[^>]*checked', page)  # the heart question's answer
    assert "Pain since shingles two years ago." in page
    assert Referral.objects.count() == 0


def test_an_oversize_letter_is_refused_with_a_clear_message_and_nothing_written(
    client, data_dir, settings
):
    settings.REFERRAL_MAX_MB = 1
    big = PDF_BYTES + b"0" * (1024 * 1024)
    response = send_physician(client, letter=pdf("scan.pdf", big))
    assert response.status_code == 400
    page = response.content.decode()
    assert "The file is larger than 1 MB." in page and 'value="Marguerite"' in page
    assert Referral.objects.count() == 0 and stored_files(data_dir) == []


def test_a_png_named_pdf_is_refused_whatever_its_name_and_content_type(client, data_dir):
    response = send_physician(client, letter=pdf("letter.pdf", PNG_BYTES))
    assert response.status_code == 400
    assert "This file is not a PDF" in response.content.decode()
    assert Referral.objects.count() == 0 and stored_files(data_dir) == []


def test_the_rate_limit_answers_429_after_the_configured_number_per_form_and_address(
    client, settings
):
    settings.REFERRAL_RATE_PER_HOUR = 2
    for _ in range(2):
        assert client.post(reverse(SELF), self_data()).status_code == 302
    refused = client.post(reverse(SELF), self_data())
    assert refused.status_code == 429
    assert "Too many requests" in refused.content.decode()
    assert "nothing was stored" in refused.content.decode()
    assert Referral.objects.count() == 2
    # The other form, and another address, have their own count.
    assert send_physician(client).status_code == 302
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert other.post(reverse(SELF), self_data()).status_code == 302
    assert Referral.objects.count() == 4


def test_repeated_bad_posts_also_reach_a_limit(client, settings):
    settings.REFERRAL_TRIES_PER_HOUR = 3
    for _ in range(3):
        assert client.post(reverse(SELF), {"given_name": "x"}).status_code == 400
    assert client.post(reverse(SELF), self_data()).status_code == 429
    assert Referral.objects.count() == 0


def test_the_honeypot_looks_like_success_and_stores_nothing(client, data_dir):
    response = send_physician(client, website="http://spam.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("referrals:physician_thanks")
    assert Referral.objects.count() == 0 and stored_files(data_dir) == []
    assert SubmissionAttempt.objects.get().outcome == AttemptOutcome.TRAP


def test_the_answer_never_says_whether_the_patient_is_already_known(client):
    make_patient("Luc", "Gagnon", date_of_birth="1975-11-02")
    known = client.post(reverse(SELF), self_data(), follow=True)
    unknown = client.post(
        reverse(SELF), self_data(given_name="Zoé", family_name="Roy"), follow=True
    )
    assert known.redirect_chain == [(reverse("referrals:self_thanks"), 302)]
    assert unknown.redirect_chain == known.redirect_chain

    # Byte for byte, but for the per-response CSRF token of the language switch.
    def without_token(html: bytes) -> bytes:
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", html)

    assert without_token(known.content) == without_token(unknown.content)
    assert Referral.objects.count() == 2


def test_csrf_is_required(data_dir):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse(SELF), self_data()).status_code == 403
    assert Referral.objects.count() == 0


def test_a_date_typed_the_us_way_is_refused_not_guessed(client):
    """03/04/1975 could be 3 April or 4 March: only YYYY-MM-DD is read."""
    response = client.post(reverse(SELF), self_data(date_of_birth="03/04/1975"))
    assert response.status_code == 400
    assert "Type the date of birth as YYYY-MM-DD" in response.content.decode()
    assert 'value="03/04/1975"' in response.content.decode()
    assert Referral.objects.count() == 0


def test_an_oversize_upload_is_not_read_past_the_limit(client, data_dir, settings):
    """The upload handler stops the file at the limit (nothing read further reaches a disk)
    and the form says why, keeping the fields typed before the file."""
    from django.core.files.uploadhandler import StopUpload

    from painclinic.web.referrals.uploads import UploadSizeLimit, upload_too_large

    settings.REFERRAL_MAX_MB = 1
    request = type("Request", (), {})()
    handler = UploadSizeLimit(request)
    assert handler.receive_data_chunk(b"%PDF-" + b"0" * 1000, 0)
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"0" * 65536, 1024 * 1024 - 1000)
    assert upload_too_large(request)
    response = send_physician(client, letter=pdf("big.pdf", PDF_BYTES + b"0" * (3 * 1024 * 1024)))
    page = response.content.decode()
    assert response.status_code == 400
    assert "The file is larger than 1 MB." in page
    assert "Attach the referral letter" not in page
    assert 'value="Dr. Amara Osei"' in page
    assert Referral.objects.count() == 0 and stored_files(data_dir) == []
