"""The patient's invoices and receipts in the portal: only their own, every download audited."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent
from painclinic.web.billing.models import PaymentMethod
from painclinic.web.billing.services import (
    ManualInvoiceInput,
    ManualLineInput,
    PaymentInput,
    do_issue_manual_invoice,
    do_record_payment,
)
from tests.conftest import actor_as
from tests.web.billing.factories import standard_fees
from tests.web.pdfs import pdf_text

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)

URL_MATRIX: dict[str, set[Role]] = {
    "portal:invoices": {T},
    "portal:receipt_pdf": {T},
    "portal:statement_pdf": {T},
}


@pytest.fixture
def invoices(users, patient, own_patient):
    """A paid report invoice for the portal user, and one for another patient."""
    standard_fees(actor_as(users[Role.CLINIC_ADMIN]))
    billing = actor_as(users[Role.BILLING])

    def issue(who):
        return do_issue_manual_invoice(
            billing,
            who.pk,
            ManualInvoiceInput(
                lines=(ManualLineInput(fee_code="REPORT", service_date=timezone.localdate()),)
            ),
        ).patient_invoice

    mine, theirs = issue(own_patient), issue(patient)
    do_record_payment(
        billing, mine.pk, PaymentInput(amount_cents=10_000, method=PaymentMethod.DEBIT)
    )
    return mine, theirs


def urls(mine) -> dict[str, str]:
    return {
        "portal:invoices": reverse("portal:invoices"),
        "portal:receipt_pdf": reverse("portal:receipt_pdf", kwargs={"invoice_id": mine.pk}),
        "portal:statement_pdf": reverse(
            "portal:statement_pdf", kwargs={"year": timezone.localdate().year}
        ),
    }


@pytest.mark.django_db
def test_the_patient_sees_their_invoices_with_balance_and_download_links(invoices, client_for):
    mine, theirs = invoices
    response = client_for(T).get(reverse("portal:invoices"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Invoices and receipts" in page
    assert mine.display_number in page and theirs.display_number not in page
    assert "$169.50" in page and "$69.50" in page  # total and balance
    assert "You owe $69.50" in page
    assert reverse("portal:receipt_pdf", kwargs={"invoice_id": mine.pk}) in page
    year = timezone.localdate().year
    assert reverse("portal:statement_pdf", kwargs={"year": year}) in page
    assert reverse("portal:invoices") in client_for(T).get(reverse("portal:home")).content.decode()


@pytest.mark.django_db
def test_the_own_receipt_downloads_as_pdf_and_is_audited(invoices, client_for, users, own_patient):
    mine, _ = invoices
    response = client_for(T).get(reverse("portal:receipt_pdf", kwargs={"invoice_id": mine.pk}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{mine.display_number}.pdf"' in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert mine.display_number in text and "Jordan Whitfield" in text
    event = AuditEvent.objects.filter(action=Action.EXPORT).order_by("-sequence").first()
    assert event is not None and event.actor == users[T] and event.patient == own_patient


@pytest.mark.django_db
def test_another_patients_invoice_is_a_404_and_audited(invoices, client_for, users):
    _, theirs = invoices
    before = AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count()
    response = client_for(T).get(reverse("portal:receipt_pdf", kwargs={"invoice_id": theirs.pk}))
    assert response.status_code == 404
    assert b"%PDF" not in response.content
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count() == before + 1
    missing = client_for(T).get(reverse("portal:receipt_pdf", kwargs={"invoice_id": 999_999}))
    assert missing.status_code == 404


@pytest.mark.django_db
def test_the_yearly_statement_downloads_with_the_patients_own_payments(
    invoices, client_for, users, own_patient
):
    year = timezone.localdate().year
    response = client_for(T).get(reverse("portal:statement_pdf", kwargs={"year": year}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Jordan Whitfield" in text and "Ada Lovelace" not in text
    assert "$100.00" in text
    event = AuditEvent.objects.filter(action=Action.EXPORT).order_by("-sequence").first()
    assert event.patient == own_patient and event.detail["year"] == year
    future = client_for(T).get(reverse("portal:statement_pdf", kwargs={"year": year + 1}))
    assert future.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role", [P, N, F, B, A], ids=lambda r: r.value)
def test_staff_cannot_open_the_portal_pages(role, invoices, client_for):
    mine, _ = invoices
    client = client_for(role)
    for name, url in urls(mine).items():
        assert client.get(url).status_code == 403, name


@pytest.mark.django_db
def test_the_patient_is_refused_the_staff_billing_pages(invoices, client_for, own_patient):
    """Even for their own invoice, the patient uses the portal, not the billing staff's pages."""
    mine, _ = invoices
    client = client_for(T)
    year = timezone.localdate().year
    for url in (
        reverse("billing:home"),
        reverse("billing:invoice", kwargs={"invoice_id": mine.pk}),
        reverse("billing:invoice_pdf", kwargs={"invoice_id": mine.pk}),
        reverse("billing:statement_pdf", kwargs={"patient_id": own_patient.pk, "year": year}),
    ):
        assert client.get(url).status_code == 403, url
