"""Receipts, invoices, credit notes and yearly statements as PDF: what an insurer and the CRA read.

Each test reads the rendered PDF's text back (pypdf) and checks what a patient relies on.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.billing.models import Payer, Payment, PaymentKind, PaymentMethod, Refund
from painclinic.web.billing.receipts import (
    HST_MISSING,
    KEEP_RECEIPT,
    NOT_OHIP,
    invoice_pdf,
    statement_data,
    statement_pdf,
)
from painclinic.web.billing.services import (
    CoverageInput,
    CreditInput,
    ManualInvoiceInput,
    ManualLineInput,
    PayerInput,
    PaymentInput,
    RefundInput,
    do_add_coverage,
    do_add_payer,
    do_issue_credit_note,
    do_issue_manual_invoice,
    do_issue_session_invoice,
    do_record_payment,
    do_refund,
)
from painclinic.web.patients.models import Patient
from tests.conftest import actor_as
from tests.web.billing.factories import signed_sessions, standard_fees
from tests.web.pdfs import pdf_text


def flat(pdf: bytes) -> str:
    """The PDF's text with runs of whitespace as one space (table cells may wrap)."""
    return re.sub(r"\s+", " ", pdf_text(pdf))


@pytest.fixture
def clinic(settings):
    settings.CLINIC_NAME = "Lakeshore Pain Clinic"
    settings.CLINIC_ADDRESS = "100 Example Street, Suite 200, Toronto ON M5V 0A1"
    settings.CLINIC_PHONE = "416-555-0100"
    settings.CLINIC_EMAIL = "billing@lakeshore.example"
    settings.CLINIC_HST_NUMBER = "12345 6789 RT0001"
    return settings


@pytest.fixture
def billing(users):
    physician = users[Role.PHYSICIAN]
    physician.first_name, physician.last_name = "Amara", "Okafor"
    physician.registration_number = "CPSO 98765"
    physician.save()
    standard_fees(actor_as(users[Role.CLINIC_ADMIN]))
    return actor_as(users[Role.BILLING])


def session_invoice(users, patient, billing, *, count=2, coverage_id=None):
    sessions = signed_sessions(patient, users[Role.PHYSICIAN], users[Role.FRONT_DESK], count=count)
    return do_issue_session_invoice(
        billing, patient.pk, [s.pk for s in sessions], coverage_id=coverage_id
    ), sessions


def report_invoice(billing, patient):
    result = do_issue_manual_invoice(
        billing,
        patient.pk,
        ManualInvoiceInput(
            lines=(ManualLineInput(fee_code="REPORT", service_date=timezone.localdate()),)
        ),
    )
    return result.patient_invoice


def pay(billing, invoice, cents, method=PaymentMethod.DEBIT):
    return do_record_payment(billing, invoice.pk, PaymentInput(amount_cents=cents, method=method))


@pytest.mark.django_db
def test_an_unpaid_invoice_lists_clinic_patient_provider_every_line_and_the_balance(
    clinic, users, patient, billing
):
    result, sessions = session_invoice(users, patient, billing)
    invoice = result.patient_invoice
    pay(billing, invoice, 10_000)
    text = flat(invoice_pdf(invoice))

    assert "Lakeshore Pain Clinic" in text
    assert "100 Example Street, Suite 200, Toronto ON M5V 0A1" in text
    assert "416-555-0100" in text and "billing@lakeshore.example" in text
    assert text.split(" Number")[0].endswith("Invoice")
    assert "Receipt" not in text and "PAID IN FULL" not in text
    assert invoice.display_number in text
    assert "Ada Lovelace" in text and "1970-05-17" in text
    assert "Dr. Amara Okafor" in text and "Registration: CPSO 98765" in text
    for line in invoice.lines.all():
        assert line.description in text
        assert f"{line.service_date:%Y-%m-%d}" in text
    assert len({line.service_date for line in invoice.lines.all()}) == len(sessions)
    assert "Ketamine" in text and "min infusion" in text  # the drug and the session length
    # 2 sessions x ($450 + $25.50) + a $250 planning visit = $1,201.00, tax-exempt.
    assert "Total $1,201.00" in text
    assert "Payments received $100.00" in text
    assert "Balance due $1,101.00" in text
    assert f"Due {invoice.due_on:%Y-%m-%d}" in text
    # Exempt services: no HST line and no HST registration number.
    assert "HST registration no." not in text and "12345 6789 RT0001" not in text
    assert NOT_OHIP in text and KEEP_RECEIPT in text


@pytest.mark.django_db
def test_a_fully_paid_invoice_is_titled_receipt_with_each_payment(clinic, users, patient, billing):
    result, _ = session_invoice(users, patient, billing, count=1)
    invoice = result.patient_invoice
    pay(billing, invoice, 20_000, PaymentMethod.CASH)
    pay(billing, invoice, invoice.total_cents - 20_000, PaymentMethod.CREDIT_CARD)
    text = flat(invoice_pdf(invoice))

    assert text.split(" Number")[0].endswith("Receipt")
    assert "PAID IN FULL" in text
    today = f"{timezone.localdate():%Y-%m-%d}"
    assert f"{today} Cash $200.00" in text
    assert f"{today} Credit card $525.50" in text
    assert "Balance due $0.00" in text
    assert "Due " not in text  # nothing is due on a receipt


@pytest.mark.django_db
def test_a_taxed_invoice_shows_hst_per_line_and_the_clinic_hst_number(
    clinic, users, patient, billing
):
    invoice = report_invoice(billing, patient)
    text = flat(invoice_pdf(invoice))

    assert "Report for an insurer" in text
    assert "HST registration no. 12345 6789 RT0001" in text
    assert "Subtotal $150.00" in text
    assert "HST 13% $19.50" in text
    assert "Total $169.50" in text
    assert "$150.00 $150.00 $19.50" in text  # the line: unit price, amount, its tax


@pytest.mark.django_db
def test_tax_charged_without_a_configured_hst_number_says_so_and_invents_none(
    clinic, users, patient, billing
):
    clinic.CLINIC_HST_NUMBER = ""
    text = flat(invoice_pdf(report_invoice(billing, patient)))
    assert HST_MISSING in text
    assert "HST registration no." not in text


@pytest.mark.django_db
def test_markup_in_a_patients_name_is_printed_as_text(clinic, users, billing):
    patient = Patient.objects.create(
        legal_given_name="<b>Eve</b>",
        legal_family_name="O'Brien & <i>Co</i>",
        date_of_birth=dt.date(1981, 2, 3),
        sex_at_birth="female",
        address_line='<img src="http://evil.example/x.png">12 Elm St',
        city="Toronto",
        province="ON",
        postal_code="M4M 1A1",
    )
    invoice = report_invoice(billing, patient)
    text = flat(invoice_pdf(invoice))
    assert "<b>Eve</b> O'Brien & <i>Co</i>" in text
    assert '<img src="http://evil.example/x.png">12 Elm St' in text


@pytest.mark.django_db
def test_a_split_bill_names_the_payer_its_claim_numbers_and_the_patient(
    clinic, users, patient, billing
):
    payer = do_add_payer(billing, PayerInput(name="Sun Health Benefits", kind="private_plan"))
    coverage = do_add_coverage(
        billing,
        patient.pk,
        CoverageInput(
            payer_id=payer.pk,
            payer_share_basis_points=8000,
            plan_name="Gold Extended Health",
            group_number="G-4411",
            member_id="M-778812",
        ),
    )
    result, _ = session_invoice(users, patient, billing, count=1, coverage_id=coverage.pk)
    payer_text = flat(invoice_pdf(result.payer_invoice))
    patient_text = flat(invoice_pdf(result.patient_invoice))

    assert "BILL TO Sun Health Benefits" in payer_text  # the label is set in capitals
    assert "Plan Gold Extended Health" in payer_text
    assert "Group number G-4411" in payer_text and "Member ID M-778812" in payer_text
    assert "Ada Lovelace" in payer_text and "1970-05-17" in payer_text
    # $725.50 split 80/20 per line: payer $580.40, patient $145.10.
    assert "Total $580.40" in payer_text
    assert "Total $145.10" in patient_text
    assert result.payer_invoice.display_number in patient_text
    assert "Sun Health Benefits is billed its 80%" in patient_text


@pytest.mark.django_db
def test_a_credit_note_names_the_invoice_it_credits_and_the_invoice_lists_it(
    clinic, users, patient, billing
):
    invoice = report_invoice(billing, patient)
    pay(billing, invoice, 5_000, PaymentMethod.CASH)
    credit = do_issue_credit_note(billing, invoice.pk, CreditInput(reason="Report not needed"))
    credit_text = flat(invoice_pdf(credit))
    assert credit_text.split(" Number")[0].endswith("Credit note")
    assert f"Credits {invoice.display_number}" in credit_text
    assert "Report not needed" in credit_text
    assert "Total credited $169.50" in credit_text

    invoice_text = flat(invoice_pdf(invoice))
    assert f"{credit.display_number} -$169.50" in invoice_text
    # The $50 paid is no longer owed: it goes back on account, and the receipt says so.
    assert "Returned to account: Cash of" in invoice_text and "-$50.00" in invoice_text
    assert "Payments received $0.00" in invoice_text
    assert "Balance due $0.00" in invoice_text


# --- the yearly statement -------------------------------------------------------------------------


def old_payment(patient, clerk, day, cents, *, payer=None):
    """A payment received in an earlier year (written directly: a past day)."""
    return Payment.objects.create(
        kind=PaymentKind.PAYMENT,
        patient=patient,
        payer=payer,
        method=PaymentMethod.CHEQUE,
        amount_cents=cents,
        received_on=day,
        received_at=timezone.now(),
        received_by=clerk,
    )


@pytest.mark.django_db
def test_the_statement_totals_payments_less_refunds_of_the_year_only(
    clinic, users, patient, billing
):
    year = timezone.localdate().year
    result, _ = session_invoice(users, patient, billing, count=1)
    invoice = result.patient_invoice
    first = pay(billing, invoice, 30_000, PaymentMethod.E_TRANSFER)
    pay(billing, invoice, invoice.total_cents - 30_000, PaymentMethod.DEBIT)
    report = report_invoice(billing, patient)
    report_payment = pay(billing, report, report.total_cents, PaymentMethod.CASH)
    do_issue_credit_note(billing, report.pk, CreditInput(reason="Report cancelled"))
    do_refund(
        billing,
        report_payment.pk,
        RefundInput(amount_cents=report.total_cents, method=PaymentMethod.CASH, reason="Cancelled"),
    )
    # Another year's payment, and money a payer paid this year: neither counts as the patient's.
    old_payment(patient, users[Role.BILLING], dt.date(year - 1, 12, 31), 99_900)
    payer = Payer.objects.create(
        name="WSIB Ontario", kind="wsib", created_by=users[Role.BILLING], created_at=timezone.now()
    )
    old_payment(patient, users[Role.BILLING], timezone.localdate(), 12_300, payer=payer)

    data = statement_data(patient, year)
    assert data.paid_cents == 72_550 + 16_950
    assert data.refunded_cents == 16_950
    assert data.net_cents == 72_550
    assert data.payer_cents == 12_300

    text = flat(statement_pdf(patient, year))
    assert "Payment statement" in text and f"Calendar year {year}" in text
    assert "Lakeshore Pain Clinic" in text and "Ada Lovelace" in text
    assert f"Total paid in {year} $725.50" in text
    assert "Refunds -$169.50" in text
    assert "$999.00" not in text  # last year's payment
    assert "Paid by WSIB Ontario" in text and "$123.00" in text
    assert invoice.display_number in text and "Ketamine infusion" in text
    assert f"{first.received_on:%Y-%m-%d} Interac e-Transfer" in text
    assert "Medical expense tax credit: $725.50" in text

    last_year = flat(statement_pdf(patient, year - 1))
    assert f"Total paid in {year - 1} $999.00" in last_year
    assert "$725.50" not in last_year


@pytest.mark.django_db
def test_the_statement_excludes_refunds_given_in_another_year(clinic, users, patient, billing):
    year = timezone.localdate().year
    old = old_payment(patient, users[Role.BILLING], dt.date(year - 1, 6, 1), 50_000)
    Refund.objects.create(
        payment=old,
        amount_cents=20_000,
        method=PaymentMethod.CHEQUE,
        reason="Overpaid",
        refunded_on=dt.date(year - 1, 6, 2),
        refunded_at=timezone.now(),
        refunded_by=users[Role.BILLING],
    )
    assert statement_data(patient, year - 1).net_cents == 30_000
    assert statement_data(patient, year).net_cents == 0
    assert "No payments received" in flat(statement_pdf(patient, year))
