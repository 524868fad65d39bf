"""Receipts, invoices, credit notes and yearly statements as PDF (WeasyPrint, no network).

A patient hands these to an extended-health insurer and keeps them for the CRA's medical
expense tax credit, so each document carries what those ask for: the clinic's name, address and
contacts, its HST registration number when tax is charged, the provider and their registration
number, the patient, each service with its date, the tax, what was paid and what is still owed.

The HTML comes from Django templates with autoescaping on (a patient's name or a payer's address
is typed by people and may contain markup: it is printed as text). Money is formatted here
(``$1,234.56``), dates ``YYYY-MM-DD``. A fixed number of queries per document.

The document's title follows its state: "Receipt" once nothing is owed, "Invoice" while a
balance remains, "Credit note" for a credit note.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Prefetch
from django.template.loader import render_to_string

from painclinic.web.billing.models import (
    Allocation,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    Payment,
    PaymentKind,
    Refund,
)
from painclinic.web.billing.services import balance_of, dollars, patient_display_name
from painclinic.web.lib.clinictime import to_local
from painclinic.web.lib.pdf import render_pdf
from painclinic.web.lib.tax import tax_rules
from painclinic.web.patients.models import Patient

HST_MISSING = "HST registration number not configured"
NOT_OHIP = "Infusions are not covered by OHIP."
KEEP_RECEIPT = (
    "Keep this receipt for your insurer and your income tax return (medical expense tax credit)."
)


def _day(value: dt.date | None) -> str:
    return f"{value:%Y-%m-%d}" if value else ""


def clinic() -> dict[str, str]:
    return {
        "name": settings.CLINIC_NAME,
        "address": settings.CLINIC_ADDRESS,
        "phone": settings.CLINIC_PHONE,
        "email": settings.CLINIC_EMAIL,
    }


def _hst(charged: bool) -> dict[str, str]:
    """The clinic's HST number line: only on a document that charges tax; never invented."""
    if not charged:
        return {}
    number = settings.CLINIC_HST_NUMBER.strip()
    return {"number": number} if number else {"missing": HST_MISSING}


# --- one invoice, receipt or credit note ----------------------------------------------------------


@dataclass(frozen=True)
class LineRow:
    date: str
    description: str
    quantity: int
    unit: str
    fee: str  # the whole line before a payer split
    amount: str  # this document's share
    tax: str


@dataclass(frozen=True)
class MoneyRow:
    date: str
    label: str
    amount: str


def _line_rows(lines: list[InvoiceLine]) -> list[LineRow]:
    return [
        LineRow(
            date=_day(line.service_date),
            description=line.description,
            quantity=line.quantity,
            unit=dollars(line.unit_cents),
            fee=dollars(line.full_amount_cents),
            amount=dollars(line.amount_cents),
            tax=dollars(line.tax_cents) if line.tax_cents else "",
        )
        for line in lines
    ]


def _payment_label(payment: Payment) -> str:
    label = payment.get_method_display()
    if payment.payer_id is not None and payment.payer is not None:
        label = f"{label} ({payment.payer.name})"
    if payment.kind == PaymentKind.DEPOSIT:
        label = f"Deposit applied: {label}"
    if payment.reference:
        label = f"{label}, ref. {payment.reference}"
    return label


def _payment_rows(allocations: list[Allocation]) -> list[MoneyRow]:
    """Each payment applied to the invoice; a negative allocation is money taken back off it."""
    rows = []
    for allocation in allocations:
        payment = allocation.payment
        if allocation.amount_cents >= 0:
            rows.append(
                MoneyRow(
                    _day(payment.received_on),
                    _payment_label(payment),
                    dollars(allocation.amount_cents),
                )
            )
        else:
            # Taken back off the invoice: a payment reversed as entered in error, or money a
            # credit note left overpaid, returned to the account (to be applied or refunded).
            reversed_ = hasattr(payment, "reversal")
            what = "Payment reversed (entered in error)" if reversed_ else "Returned to account"
            rows.append(
                MoneyRow(
                    _day(to_local(allocation.created_at).date()),
                    f"{what}: {payment.get_method_display()} of {_day(payment.received_on)}",
                    dollars(allocation.amount_cents),
                )
            )
    return rows


def _rate_text(invoice: Invoice, lines: list[InvoiceLine]) -> str:
    on = next((line.service_date for line in lines if line.tax_cents), None) or invoice.issued_on
    try:
        rate = tax_rules().rate_on(on)
    except ValueError:
        return "HST"
    return f"{rate.tax} {rate.percent_text}"


def _title(invoice: Invoice, balance_cents: int, paid_cents: int) -> str:
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return "Credit note"
    if balance_cents <= 0 and (paid_cents > 0 or invoice.total_cents == 0):
        return "Receipt"
    return "Invoice"


def invoice_context(invoice: Invoice) -> dict[str, object]:
    """Everything the receipt template shows, as text (money and dates formatted)."""
    invoice = (
        Invoice.objects.select_related("patient", "coverage__payer", "credits", "split_with")
        .prefetch_related(
            Prefetch("lines", queryset=InvoiceLine.objects.order_by("position")),
            Prefetch(
                "allocations",
                queryset=Allocation.objects.select_related(
                    "payment__payer", "payment__reversal"
                ).order_by("created_at", "pk"),
            ),
            Prefetch(
                "credit_notes", queryset=Invoice.objects.order_by("number"), to_attr="credit_list"
            ),
        )
        .get(pk=invoice.pk)
    )
    patient = invoice.patient
    lines = list(invoice.lines.all())
    balance = balance_of(invoice)
    credit_note = invoice.kind == InvoiceKind.CREDIT_NOTE
    payments = [] if credit_note else _payment_rows(list(invoice.allocations.all()))
    notes: list[Invoice] = list(getattr(invoice, "credit_list", []))
    credits = [
        MoneyRow(_day(note.issued_on), note.display_number, dollars(-note.total_cents))
        for note in notes
    ]
    split = any(line.full_amount_cents != line.amount_cents for line in lines)
    coverage = invoice.coverage
    # The other half of a split bill: the patient's invoice names the payer's, and back.
    other = invoice.split_with or Invoice.objects.filter(split_with=invoice).first()
    split_note = ""
    if other is not None and coverage is None and other.coverage is not None:
        split_note = (
            f"Your share. {other.coverage.payer.name} is billed its "
            f"{other.coverage.share_percent_text} on {other.display_number}."
        )
    elif other is not None and coverage is not None:
        split_note = (
            f"{coverage.payer.name}'s {coverage.share_percent_text} share. The patient is "
            f"billed the rest on {other.display_number}."
        )
    title = _title(invoice, balance.balance_cents, balance.paid_cents)
    return {
        "clinic": clinic(),
        "hst": _hst(invoice.tax_cents != 0),
        "title": title,
        "invoice": invoice,
        "number": invoice.display_number,
        "issued_on": _day(invoice.issued_on),
        "due_on": _day(invoice.due_on) if balance.balance_cents > 0 else "",
        "credit_note": credit_note,
        "credits_number": invoice.credits.display_number if invoice.credits else "",
        "bill_to_payer": coverage is not None,
        "bill_to_name": invoice.bill_to_name,
        "bill_to_address": invoice.bill_to_address,
        "identifiers": coverage.identifiers if coverage is not None else [],
        "patient_name": patient_display_name(patient),
        "patient_dob": _day(patient.date_of_birth),
        "provider_name": invoice.provider_name,
        "provider_registration": invoice.provider_registration,
        "lines": _line_rows(lines),
        "split": split,
        "share_label": "Payer share" if coverage is not None else "Patient share",
        "split_note": split_note,
        "taxed": invoice.tax_cents != 0,
        "rate_text": _rate_text(invoice, lines),
        "subtotal": dollars(invoice.subtotal_cents),
        "tax": dollars(invoice.tax_cents),
        "total": dollars(invoice.total_cents),
        "payments": payments,
        "paid": dollars(balance.paid_cents),
        "credits": credits,
        "credited": dollars(-balance.credited_cents),
        "balance": dollars(balance.balance_cents),
        "owing": balance.balance_cents > 0,
        "note": invoice.note,
        "footer": [
            NOT_OHIP,
            KEEP_RECEIPT.replace("this receipt", "this credit note")
            if credit_note
            else KEEP_RECEIPT,
        ],
    }


def invoice_html(invoice: Invoice) -> str:
    return render_to_string("billing/pdf_receipt.html", invoice_context(invoice))


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice, receipt or credit note as a Letter-size PDF."""
    return render_pdf(invoice_html(invoice))


def receipt_filename(invoice: Invoice) -> str:
    return f"{invoice.display_number}.pdf"


# --- the yearly statement -------------------------------------------------------------------------


@dataclass
class StatementRow:
    date: str
    label: str
    invoices: str
    services: list[str]
    amount: str


@dataclass
class Statement:
    year: int
    rows: list[StatementRow] = field(default_factory=list)
    refunds: list[StatementRow] = field(default_factory=list)
    payer_rows: list[StatementRow] = field(default_factory=list)
    paid_cents: int = 0
    refunded_cents: int = 0
    payer_cents: int = 0

    @property
    def net_cents(self) -> int:
        return self.paid_cents - self.refunded_cents


def _services_of(payment: Payment) -> tuple[str, list[str]]:
    invoices: dict[int, Invoice] = {}
    for allocation in payment.allocations.all():
        invoices.setdefault(allocation.invoice_id, allocation.invoice)
    numbers = ", ".join(invoice.display_number for invoice in invoices.values())
    services = [
        f"{_day(line.service_date)} {line.description}".strip()
        for invoice in invoices.values()
        for line in invoice.lines.all()
    ]
    return numbers, services


def statement_data(patient: Patient, year: int) -> Statement:
    """Money the patient paid in ``year`` (by date received), refunds given in ``year``, and,
    apart, what third parties paid for the patient's services. Four queries."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    payments = list(
        Payment.objects.filter(patient=patient, received_on__range=(start, end))
        .select_related("payer", "reverses")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=Allocation.objects.filter(amount_cents__gt=0)
                .select_related("invoice")
                .prefetch_related(
                    Prefetch("invoice__lines", queryset=InvoiceLine.objects.order_by("position"))
                )
                .order_by("invoice__number"),
            )
        )
        .order_by("received_on", "received_at", "pk")
    )
    statement = Statement(year=year)
    for payment in payments:
        if payment.kind == PaymentKind.REVERSAL and payment.reverses is not None:
            numbers, services = _services_of(payment.reverses)
            label = f"Reversal of the {_day(payment.reverses.received_on)} payment entered in error"
        else:
            numbers, services = _services_of(payment)
            label = _payment_label(payment)
        row = StatementRow(
            _day(payment.received_on), label, numbers, services, dollars(payment.amount_cents)
        )
        if payment.payer_id is not None:
            row.label = f"Paid by {payment.payer.name}" if payment.payer else row.label
            statement.payer_rows.append(row)
            statement.payer_cents += payment.amount_cents
        else:
            statement.rows.append(row)
            statement.paid_cents += payment.amount_cents
    for refund in (
        Refund.objects.filter(
            payment__patient=patient,
            payment__payer__isnull=True,
            refunded_on__range=(start, end),
        )
        .select_related("payment")
        .order_by("refunded_on", "refunded_at", "pk")
    ):
        statement.refunds.append(
            StatementRow(
                _day(refund.refunded_on),
                f"Refund by {refund.get_method_display().lower()} of the "
                f"{_day(refund.payment.received_on)} payment",
                "",
                [],
                dollars(-refund.amount_cents),
            )
        )
        statement.refunded_cents += refund.amount_cents
    return statement


def statement_context(patient: Patient, year: int) -> dict[str, object]:
    data = statement_data(patient, year)
    return {
        "clinic": clinic(),
        "hst": {},
        "title": "Payment statement",
        "year": year,
        "issued_on": _day(to_local(dt.datetime.now(dt.UTC)).date()),
        "patient_name": patient_display_name(patient),
        "patient_dob": _day(patient.date_of_birth),
        "patient_address": "\n".join(
            part
            for part in (
                patient.address_line.strip(),
                f"{patient.city} {patient.province} {patient.postal_code}".strip(),
            )
            if part
        ),
        "statement": data,
        "paid": dollars(data.paid_cents),
        "refunded": dollars(-data.refunded_cents),
        "net": dollars(data.net_cents),
        "payer_total": dollars(data.payer_cents),
        "footer": [NOT_OHIP, KEEP_RECEIPT.replace("this receipt", "this statement")],
    }


def statement_html(patient: Patient, year: int) -> str:
    return render_to_string("billing/pdf_statement.html", statement_context(patient, year))


def statement_pdf(patient: Patient, year: int) -> bytes:
    """Everything ``patient`` paid the clinic in calendar ``year``, less refunds, as a PDF."""
    return render_pdf(statement_html(patient, year))


def statement_filename(patient: Patient, year: int) -> str:
    return f"statement-{year}-{patient.pk}.pdf"
