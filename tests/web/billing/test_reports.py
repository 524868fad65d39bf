"""Billing reports: aged receivables, revenue for a period, and their CSV files.

Invoices are issued through the services with the clock frozen on the issue day (noon in the
clinic's zone), so an invoice's age is what the services wrote, never patched.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from painclinic.web.accounts.models import Role
from painclinic.web.billing import reports
from painclinic.web.billing.models import PayerKind, PaymentMethod
from painclinic.web.billing.services import (
    CoverageInput,
    CreditInput,
    ManualInvoiceInput,
    ManualLineInput,
    PayerInput,
    PaymentInput,
    RefundInput,
    day_summary,
    do_add_coverage,
    do_add_payer,
    do_issue_credit_note,
    do_issue_manual_invoice,
    do_record_payment,
    do_refund,
)
from painclinic.web.treatments.models import FeeBasis
from tests.conftest import actor_as, make_patient
from tests.web.billing.factories import add_fee, standard_fees

AS_OF = dt.date(2026, 6, 30)


def at_noon(day: dt.date):
    """Freeze the clock at noon of ``day`` in the clinic's zone."""
    zone = ZoneInfo(settings.TIME_ZONE)
    return time_machine.travel(dt.datetime.combine(day, dt.time(12), tzinfo=zone), tick=False)


@pytest.fixture
def clerk(users):
    return actor_as(users[Role.BILLING])


@pytest.fixture
def fees(users, db):
    admin = actor_as(users[Role.CLINIC_ADMIN])
    standard_fees(admin)  # REPORT: $150.00, taxable (13 %)
    add_fee(admin, "FORM", 10_000, FeeBasis.SERVICE, description="Disability form")


def issue(clerk, patient, day: dt.date, code: str = "FORM", *, coverage_id=None):
    with at_noon(day):
        result = do_issue_manual_invoice(
            clerk,
            patient.pk,
            ManualInvoiceInput(lines=(ManualLineInput(fee_code=code),), coverage_id=coverage_id),
        )
    return result


def pay(clerk, invoice, day: dt.date, cents: int, method=PaymentMethod.CASH):
    with at_noon(day):
        return do_record_payment(clerk, invoice.pk, PaymentInput(amount_cents=cents, method=method))


def payer_coverage(clerk, patient, name="Northern Mutual", share=8000):
    payer = do_add_payer(clerk, PayerInput(name=name, kind=PayerKind.PRIVATE_PLAN))
    return do_add_coverage(
        clerk,
        patient.pk,
        CoverageInput(payer_id=payer.pk, payer_share_basis_points=share, member_id="M-1"),
    )


def days_before(n: int) -> dt.date:
    return AS_OF - dt.timedelta(days=n)


# --- aged receivables -------------------------------------------------------------------------


def test_buckets_split_exactly_at_30_60_and_90_days(fees, clerk, patient):
    ages = [0, 30, 31, 60, 61, 90, 91]
    for age in ages:
        issue(clerk, patient, days_before(age))
    issue(clerk, patient, AS_OF + dt.timedelta(days=1))  # issued after the date: not listed

    report = reports.aged_receivables(AS_OF)

    assert len(report.rows) == 1
    row = report.rows[0]
    assert row.buckets_cents == (20_000, 20_000, 20_000, 10_000)
    assert row.total_cents == 70_000
    assert len(row.invoice_numbers) == 7
    assert report.buckets_cents == (20_000, 20_000, 20_000, 10_000)
    assert [reports.bucket_of(a) for a in ages] == [0, 0, 1, 1, 2, 2, 3]


def test_credit_note_and_partial_payment_reduce_the_balance_as_of_their_dates(fees, clerk, patient):
    issued = days_before(20)
    invoice = issue(clerk, patient, issued).patient_invoice
    pay(clerk, invoice, days_before(15), 3_000)
    with at_noon(days_before(10)):
        do_issue_credit_note(
            clerk,
            invoice.pk,
            CreditInput(reason="Courtesy discount", full=False, amount_cents=2_000),
        )

    def owed(on: dt.date) -> int:
        return reports.aged_receivables(on).total_cents

    assert owed(days_before(16)) == 10_000
    assert owed(days_before(15)) == 7_000
    assert owed(days_before(10)) == 5_000
    assert owed(AS_OF) == 5_000
    # A past date's report is the same when run again later.
    assert owed(days_before(15)) == 7_000


def test_fully_paid_and_fully_credited_invoices_are_absent(fees, clerk, patient):
    paid = issue(clerk, patient, days_before(40)).patient_invoice
    pay(clerk, paid, days_before(35), 10_000)
    credited = issue(clerk, patient, days_before(40)).patient_invoice
    with at_noon(days_before(39)):
        do_issue_credit_note(clerk, credited.pk, CreditInput(reason="Billed in error"))
    owing = issue(clerk, patient, days_before(40)).patient_invoice

    report = reports.aged_receivables(AS_OF)

    assert [row.invoice_numbers for row in report.rows] == [(owing.display_number,)]
    assert report.days_31_60_cents == 10_000
    # Before the payment, the paid invoice was still owed.
    earlier = reports.aged_receivables(days_before(36))
    assert paid.display_number in earlier.rows[0].invoice_numbers


def test_a_payers_share_is_its_own_row(fees, clerk, patient):
    coverage = payer_coverage(clerk, patient)
    result = issue(clerk, patient, days_before(5), coverage_id=coverage.pk)

    report = reports.aged_receivables(AS_OF)

    by_bill_to = {row.bill_to_name: row for row in report.rows}
    assert set(by_bill_to) == {"Northern Mutual", "Ada Lovelace"}
    payer_row = by_bill_to["Northern Mutual"]
    patient_row = by_bill_to["Ada Lovelace"]
    assert payer_row.patient_name == patient_row.patient_name == "Ada Lovelace"
    assert payer_row.billed_to_payer and not patient_row.billed_to_payer
    assert payer_row.invoice_numbers == (result.payer_invoice.display_number,)
    assert payer_row.days_0_30_cents == 8_000
    assert patient_row.days_0_30_cents == 2_000
    assert report.total_cents == 10_000


def _many_invoices(clerk, count: int) -> None:
    patients = [make_patient("Pat", f"Number{n}") for n in range(5)]
    coverage = payer_coverage(clerk, patients[0], name="Payer for many")
    for n in range(count):
        patient = patients[n % 5]
        result = issue(
            clerk,
            patient,
            days_before(n * 7 % 120),
            coverage_id=coverage.pk if patient is patients[0] else None,
        )
        if n % 3 == 0:
            invoice = result.patient_invoice
            pay(clerk, invoice, days_before(n * 7 % 120), 1_000)
        if n % 4 == 0:
            with at_noon(days_before(n * 7 % 120)):
                do_issue_credit_note(
                    clerk,
                    result.invoices[0].pk,
                    CreditInput(reason="Discount", full=False, amount_cents=500),
                )


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "build",
    [
        lambda: reports.aged_receivables(AS_OF),
        lambda: reports.revenue(AS_OF - dt.timedelta(days=365), AS_OF),
    ],
    ids=["aged", "revenue"],
)
def test_query_count_does_not_grow_with_the_number_of_invoices(fees, clerk, build):
    _many_invoices(clerk, 5)
    few = _queries(build)
    few_rows = build()
    _many_invoices(clerk, 45)
    many = _queries(build)
    assert many == few
    assert few <= 6
    # And the larger data set is really in the report.
    if isinstance(few_rows, reports.AgedReport):
        assert build().total_cents > few_rows.total_cents


# --- revenue ----------------------------------------------------------------------------------


def test_revenue_nets_credit_notes_by_service_and_payer_with_tax_apart(fees, clerk, patient):
    start, end = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
    issue(clerk, patient, dt.date(2026, 4, 30))  # before the period
    report_invoice = issue(clerk, patient, dt.date(2026, 5, 3), "REPORT").patient_invoice
    form_invoice = issue(clerk, patient, dt.date(2026, 5, 4)).patient_invoice
    coverage = payer_coverage(clerk, patient)
    issue(clerk, patient, dt.date(2026, 5, 5), coverage_id=coverage.pk)
    pay(clerk, form_invoice, dt.date(2026, 5, 10), 4_000, PaymentMethod.DEBIT)
    pay(clerk, form_invoice, dt.date(2026, 5, 11), 1_000, PaymentMethod.CASH)
    with at_noon(dt.date(2026, 5, 20)):
        do_issue_credit_note(clerk, report_invoice.pk, CreditInput(reason="Report not sent"))
    with at_noon(dt.date(2026, 6, 2)):  # after the period: not in it
        do_issue_credit_note(clerk, form_invoice.pk, CreditInput(reason="Billed in error"))
    other = issue(clerk, patient, dt.date(2026, 6, 3)).patient_invoice
    pay(clerk, other, dt.date(2026, 6, 3), 500, PaymentMethod.DEBIT)  # after the period

    result = reports.revenue(start, end)

    services = {s.fee_code: s for s in result.by_service}
    assert services["REPORT"].invoiced_cents == 15_000
    assert services["REPORT"].credited_cents == 15_000
    assert services["REPORT"].net_cents == 0 and services["REPORT"].tax_cents == 0
    assert services["REPORT"].description == "Report for an insurer"
    # Two forms in May (one split 80/20 over two invoices): $200.00, no tax.
    assert services["FORM"].net_cents == 20_000 and services["FORM"].tax_cents == 0
    payers = {p.name: p for p in result.by_payer}
    assert payers[reports.PATIENT_PAYER_LABEL].net_cents == 10_000 + 2_000
    assert payers["Northern Mutual"].net_cents == 8_000
    assert result.by_payer[0].payer_id is None  # the patients first
    assert result.net_cents == 20_000 and result.tax_cents == 0
    methods = {m.method: m for m in result.by_method}
    assert methods[PaymentMethod.DEBIT].received_cents == 4_000
    assert methods[PaymentMethod.CASH].received_cents == 1_000
    assert methods[PaymentMethod.DEBIT].label == "Debit card"
    assert result.received_cents == 5_000


def test_revenue_tax_and_refunds(fees, clerk, patient):
    day = dt.date(2026, 5, 3)
    invoice = issue(clerk, patient, day, "REPORT").patient_invoice
    payment = pay(clerk, invoice, day, 16_950, PaymentMethod.CREDIT_CARD)
    with at_noon(day):
        do_issue_credit_note(
            clerk, invoice.pk, CreditInput(reason="Discount", full=False, amount_cents=1_130)
        )
        do_refund(
            clerk,
            payment.pk,
            RefundInput(amount_cents=1_130, method=PaymentMethod.CREDIT_CARD, reason="Discount"),
        )

    result = reports.revenue(day, day)

    # $150.00 + $19.50 tax, less a credit of $11.30 = $10.00 + $1.30 tax.
    assert result.invoiced_cents == 15_000 and result.credited_cents == 1_000
    assert result.tax_cents == 1_950 - 130
    method = result.by_method[0]
    assert (method.received_cents, method.refunded_cents, method.net_cents) == (
        16_950,
        1_130,
        15_820,
    )


# --- CSV --------------------------------------------------------------------------------------


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


EVIL = "=cmd|' /C calc'!A0"


def test_aged_csv_is_inert_with_plain_dollars_and_iso_dates(fees, clerk):
    evil = make_patient(EVIL, "+SUM(A1)")
    issue(clerk, evil, days_before(45), "REPORT")

    rows = parse(reports.aged_csv(reports.aged_receivables(AS_OF)))

    assert rows[0] == [
        "As of",
        "Bill to",
        "Patient",
        "Invoices",
        "0-30 days",
        "31-60 days",
        "61-90 days",
        "Over 90 days",
        "Total",
    ]
    body = rows[1]
    assert body[0] == "2026-06-30"
    assert body[1] == body[2] == "'" + EVIL + " +SUM(A1)"
    assert body[4:] == ["0.00", "169.50", "0.00", "0.00", "169.50"]
    assert rows[-1][1] == "Total" and rows[-1][-1] == "169.50"
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell


def test_revenue_csv_writes_credits_as_numbers(fees, clerk, patient):
    day = dt.date(2026, 5, 3)
    invoice = issue(clerk, patient, day, "REPORT").patient_invoice
    with at_noon(day):
        do_issue_credit_note(clerk, invoice.pk, CreditInput(reason="=HYPERLINK(x)"))

    rows = parse(reports.revenue_csv(reports.revenue(day, day)))

    assert rows[1] == ["2026-05-03", "2026-05-03"]
    service = next(row for row in rows if row[:2] == ["Report for an insurer", "REPORT"])
    assert service[2:] == ["150.00", "150.00", "0.00", "0.00"]


def test_money_cells_are_plain_decimal_dollars():
    assert str(reports.money(123_456)) == "1234.56"
    assert str(reports.money(5)) == "0.05"
    assert str(reports.money(-5)) == "-0.05"
    assert str(reports.money(0)) == "0.00"
    assert str(reports.money(100)) == "1.00"


def test_day_csv_lists_methods_clerks_and_totals(fees, clerk, patient, users):
    day = dt.date(2026, 5, 3)
    invoice = issue(clerk, patient, day, "REPORT").patient_invoice
    pay(clerk, invoice, day, 10_000, PaymentMethod.CASH)
    pay(clerk, invoice, day, 6_950, PaymentMethod.DEBIT)
    users[Role.BILLING].__class__.objects.filter(pk=users[Role.BILLING].pk).update(
        username="=evil_clerk"
    )

    rows = parse(reports.day_csv(day_summary(day)))

    assert rows[0] == ["Day", "Section", "Item", "Count", "Amount"]
    assert ["2026-05-03", "Payments by method", "Cash", "", "100.00"] in rows
    assert ["2026-05-03", "Payments by method", "Debit card", "", "69.50"] in rows
    assert ["2026-05-03", "Payments by clerk", "'=evil_clerk", "", "169.50"] in rows
    assert ["2026-05-03", "Totals", "Invoices", "1", "169.50"] in rows
    assert ["2026-05-03", "Cash", "Expected in the drawer", "", "100.00"] in rows
