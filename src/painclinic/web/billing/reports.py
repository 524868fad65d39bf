"""Billing reports (reads only): aged receivables, revenue for a period, and their CSV files.

Each report is a fixed number of aggregate queries whatever the number of invoices: balances
are summed in the database, grouped by invoice, never fetched one invoice at a time.

* Aged receivables as of a date: every invoice with a balance left on that date, aged from its
  issue date (0-30, 31-60, 61-90, over 90 days), one row per patient and bill-to (the patient,
  or each payer that covers part of the patient's bill). Only credit notes issued and money
  applied on or before the date count, so a past date's report is the same when run again.
* Revenue for a period: what was invoiced (credit notes issued in the period taken off), before
  tax by service and by payer, tax apart; money received and refunded in the period by method.

CSV writers write money as plain dollars (``1234.56``), dates as YYYY-MM-DD, and every text
cell through ``web/lib/spreadsheet.inert`` so no cell can run as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    F,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from painclinic.web.billing.models import (
    Allocation,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    Payment,
    PaymentMethod,
    Refund,
)
from painclinic.web.billing.services import DaySummary
from painclinic.web.lib.spreadsheet import inert_row
from painclinic.web.treatments.models import FeeItem

# --- aged receivables ---------------------------------------------------------------------------

BUCKET_LABELS = ("0-30 days", "31-60 days", "61-90 days", "Over 90 days")


def bucket_of(age_days: int) -> int:
    """Index in ``BUCKET_LABELS`` of an invoice ``age_days`` old (0 on its issue day)."""
    if age_days <= 30:
        return 0
    if age_days <= 60:
        return 1
    if age_days <= 90:
        return 2
    return 3


@dataclass(frozen=True)
class AgedRow:
    """What one bill-to owes for one patient, by age."""

    patient_id: int
    patient_name: str
    payer_id: int | None  # None: billed to the patient
    bill_to_name: str
    invoice_numbers: tuple[str, ...]
    days_0_30_cents: int
    days_31_60_cents: int
    days_61_90_cents: int
    over_90_cents: int

    @property
    def total_cents(self) -> int:
        return (
            self.days_0_30_cents
            + self.days_31_60_cents
            + self.days_61_90_cents
            + self.over_90_cents
        )

    @property
    def buckets_cents(self) -> tuple[int, int, int, int]:
        return (
            self.days_0_30_cents,
            self.days_31_60_cents,
            self.days_61_90_cents,
            self.over_90_cents,
        )

    @property
    def billed_to_payer(self) -> bool:
        return self.payer_id is not None


@dataclass(frozen=True)
class AgedReport:
    as_of: dt.date
    rows: tuple[AgedRow, ...]
    days_0_30_cents: int
    days_31_60_cents: int
    days_61_90_cents: int
    over_90_cents: int

    @property
    def total_cents(self) -> int:
        return (
            self.days_0_30_cents
            + self.days_31_60_cents
            + self.days_61_90_cents
            + self.over_90_cents
        )

    @property
    def buckets_cents(self) -> tuple[int, int, int, int]:
        return (
            self.days_0_30_cents,
            self.days_31_60_cents,
            self.days_61_90_cents,
            self.over_90_cents,
        )

    @property
    def buckets(self) -> list[tuple[str, int]]:
        """(label, cents) of each age bucket, for a page's total line."""
        return list(zip(BUCKET_LABELS, self.buckets_cents, strict=True))


def _end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` in the clinic's time zone."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def _sum_subquery(queryset: Any, group_by: str, column: str) -> Coalesce:
    """``SUM(column)`` of ``queryset`` (filtered on ``OuterRef``) for one outer row, else 0."""
    summed = queryset.order_by().values(group_by).annotate(s=Sum(column)).values("s")
    return Coalesce(Subquery(summed, output_field=BigIntegerField()), Value(0))


def aged_receivables(as_of: dt.date) -> AgedReport:
    """Invoices with a balance on ``as_of``, aged from their issue date: one query."""
    cutoff = _end_of_day(as_of)
    credited = _sum_subquery(
        Invoice.objects.filter(
            credits=OuterRef("pk"), kind=InvoiceKind.CREDIT_NOTE, issued_on__lte=as_of
        ),
        "credits",
        "total_cents",
    )
    paid = _sum_subquery(
        Allocation.objects.filter(invoice=OuterRef("pk"), created_at__lt=cutoff),
        "invoice",
        "amount_cents",
    )
    open_invoices = (
        Invoice.objects.filter(kind=InvoiceKind.INVOICE, issued_on__lte=as_of)
        .annotate(credited=credited, paid=paid)
        .annotate(balance=F("total_cents") - F("credited") - F("paid"))
        .filter(balance__gt=0)
        .order_by("number")
        .values(
            "number",
            "issued_on",
            "balance",
            "bill_to_name",
            "patient_id",
            "patient__legal_given_name",
            "patient__legal_family_name",
            "coverage__payer_id",
        )
    )
    groups: dict[tuple[int, int | None], dict[str, Any]] = {}
    totals = [0, 0, 0, 0]
    for row in open_invoices:
        key = (row["patient_id"], row["coverage__payer_id"])
        group = groups.setdefault(
            key,
            {
                "patient_name": f"{row['patient__legal_given_name']} "
                f"{row['patient__legal_family_name']}",
                "numbers": [],
                "buckets": [0, 0, 0, 0],
            },
        )
        # Ordered by number: the latest invoice's bill-to name is the one kept.
        group["bill_to_name"] = row["bill_to_name"]
        group["numbers"].append(f"INV-{row['number']:06d}")
        index = bucket_of((as_of - row["issued_on"]).days)
        group["buckets"][index] += int(row["balance"])
        totals[index] += int(row["balance"])
    rows = [
        AgedRow(
            patient_id=patient_id,
            patient_name=group["patient_name"],
            payer_id=payer_id,
            bill_to_name=group["bill_to_name"],
            invoice_numbers=tuple(group["numbers"]),
            days_0_30_cents=group["buckets"][0],
            days_31_60_cents=group["buckets"][1],
            days_61_90_cents=group["buckets"][2],
            over_90_cents=group["buckets"][3],
        )
        for (patient_id, payer_id), group in groups.items()
    ]
    rows.sort(key=lambda r: (r.bill_to_name.casefold(), r.patient_name.casefold(), r.patient_id))
    return AgedReport(
        as_of=as_of,
        rows=tuple(rows),
        days_0_30_cents=totals[0],
        days_31_60_cents=totals[1],
        days_61_90_cents=totals[2],
        over_90_cents=totals[3],
    )


# --- revenue ------------------------------------------------------------------------------------

# Line codes the services write that are not fee items.
SPECIAL_CODES = {
    "CREDIT": "Credits by amount (discounts, payers' short payments)",
    "PAYER-SHORTFALL": "Billed to the patient after a payer paid less",
}
PATIENT_PAYER_LABEL = "Patients (billed directly)"


@dataclass(frozen=True)
class ServiceRevenue:
    fee_code: str
    description: str
    invoiced_cents: int  # before tax, on invoices issued in the period
    credited_cents: int  # before tax, on credit notes issued in the period
    tax_cents: int  # net: invoiced tax less credited tax

    @property
    def net_cents(self) -> int:
        return self.invoiced_cents - self.credited_cents


@dataclass(frozen=True)
class PayerRevenue:
    payer_id: int | None  # None: the patients themselves
    name: str
    invoiced_cents: int
    credited_cents: int
    tax_cents: int

    @property
    def net_cents(self) -> int:
        return self.invoiced_cents - self.credited_cents


@dataclass(frozen=True)
class MethodTotal:
    method: str
    label: str
    received_cents: int  # payments and deposits, less reversals entered in the period
    refunded_cents: int

    @property
    def net_cents(self) -> int:
        return self.received_cents - self.refunded_cents


@dataclass(frozen=True)
class RevenueReport:
    start: dt.date
    end: dt.date
    by_service: tuple[ServiceRevenue, ...]
    by_payer: tuple[PayerRevenue, ...]
    by_method: tuple[MethodTotal, ...]
    invoiced_cents: int
    credited_cents: int
    tax_cents: int
    received_cents: int
    refunded_cents: int

    @property
    def net_cents(self) -> int:
        """Net invoiced before tax."""
        return self.invoiced_cents - self.credited_cents

    @property
    def net_with_tax_cents(self) -> int:
        return self.net_cents + self.tax_cents


def _signed(column: str, kind_field: str, kind: str) -> Sum:
    return Sum(
        Case(
            When(**{kind_field: kind}, then=F(column)),
            default=Value(0),
            output_field=BigIntegerField(),
        )
    )


def revenue(start: dt.date, end: dt.date) -> RevenueReport:
    """Invoiced, credited and received money from ``start`` to ``end`` (both included)."""
    if end < start:
        start, end = end, start
    lines = (
        InvoiceLine.objects.filter(invoice__issued_on__range=(start, end))
        .values("fee_code")
        .annotate(
            invoiced=_signed("amount_cents", "invoice__kind", InvoiceKind.INVOICE),
            credited=_signed("amount_cents", "invoice__kind", InvoiceKind.CREDIT_NOTE),
            tax_in=_signed("tax_cents", "invoice__kind", InvoiceKind.INVOICE),
            tax_out=_signed("tax_cents", "invoice__kind", InvoiceKind.CREDIT_NOTE),
        )
        .order_by("fee_code")
    )
    line_rows = list(lines)
    codes = [row["fee_code"] for row in line_rows if row["fee_code"] not in SPECIAL_CODES]
    descriptions: dict[str, str] = {}
    if codes:
        # The latest version's description of each fee code (a code keeps its meaning).
        for fee in FeeItem.objects.filter(code__in=codes).order_by("code", "effective_from", "pk"):
            descriptions[fee.code] = fee.description
    by_service = tuple(
        ServiceRevenue(
            fee_code=row["fee_code"],
            description=SPECIAL_CODES.get(row["fee_code"])
            or descriptions.get(row["fee_code"], row["fee_code"]),
            invoiced_cents=int(row["invoiced"] or 0),
            credited_cents=int(row["credited"] or 0),
            tax_cents=int(row["tax_in"] or 0) - int(row["tax_out"] or 0),
        )
        for row in line_rows
    )
    payer_rows = (
        Invoice.objects.filter(issued_on__range=(start, end))
        .values("coverage__payer_id", "coverage__payer__name")
        .annotate(
            invoiced=_signed("subtotal_cents", "kind", InvoiceKind.INVOICE),
            credited=_signed("subtotal_cents", "kind", InvoiceKind.CREDIT_NOTE),
            tax_in=_signed("tax_cents", "kind", InvoiceKind.INVOICE),
            tax_out=_signed("tax_cents", "kind", InvoiceKind.CREDIT_NOTE),
        )
        .order_by("coverage__payer__name", "coverage__payer_id")
    )
    by_payer = [
        PayerRevenue(
            payer_id=row["coverage__payer_id"],
            name=row["coverage__payer__name"] or PATIENT_PAYER_LABEL,
            invoiced_cents=int(row["invoiced"] or 0),
            credited_cents=int(row["credited"] or 0),
            tax_cents=int(row["tax_in"] or 0) - int(row["tax_out"] or 0),
        )
        for row in payer_rows
    ]
    # The patients first, then the payers by name.
    by_payer.sort(key=lambda p: (p.payer_id is not None, p.name.casefold(), p.payer_id or 0))
    received: dict[str, int] = defaultdict(int)
    for row in (
        Payment.objects.filter(received_on__range=(start, end))
        .values("method")
        .annotate(total=Sum("amount_cents"))
        .order_by("method")
    ):
        received[row["method"]] += int(row["total"] or 0)
    refunded: dict[str, int] = defaultdict(int)
    for row in (
        Refund.objects.filter(refunded_on__range=(start, end))
        .values("method")
        .annotate(total=Sum("amount_cents"))
        .order_by("method")
    ):
        refunded[row["method"]] += int(row["total"] or 0)
    labels = dict(PaymentMethod.choices)
    by_method = tuple(
        MethodTotal(method, labels.get(method, method), received[method], refunded[method])
        for method in [m for m in PaymentMethod.values if m in received or m in refunded]
    )
    return RevenueReport(
        start=start,
        end=end,
        by_service=by_service,
        by_payer=tuple(by_payer),
        by_method=by_method,
        invoiced_cents=sum(p.invoiced_cents for p in by_payer),
        credited_cents=sum(p.credited_cents for p in by_payer),
        tax_cents=sum(p.tax_cents for p in by_payer),
        received_cents=sum(m.received_cents for m in by_method),
        refunded_cents=sum(m.refunded_cents for m in by_method),
    )


# --- CSV ----------------------------------------------------------------------------------------


def money(cents: int) -> Decimal:
    """Cents as plain dollars for a CSV cell: 123456 -> 1234.56, -5 -> -0.05 (a number, not
    text, so a negative amount is not mistaken for a formula and made text)."""
    return Decimal(int(cents)).scaleb(-2)


def _writer() -> tuple[io.StringIO, Any]:
    out = io.StringIO()
    return out, csv.writer(out)


def _row(writer: Any, *cells: Any) -> None:
    writer.writerow(inert_row(cells))


def aged_csv(report: AgedReport) -> str:
    out, writer = _writer()
    _row(writer, "As of", "Bill to", "Patient", "Invoices", *BUCKET_LABELS, "Total")
    as_of = report.as_of.isoformat()
    for row in report.rows:
        _row(
            writer,
            as_of,
            row.bill_to_name,
            row.patient_name,
            " ".join(row.invoice_numbers),
            *(money(cents) for cents in row.buckets_cents),
            money(row.total_cents),
        )
    _row(
        writer,
        as_of,
        "Total",
        "",
        "",
        *(money(cents) for cents in report.buckets_cents),
        money(report.total_cents),
    )
    return out.getvalue()


def revenue_csv(report: RevenueReport) -> str:
    out, writer = _writer()
    period = (report.start.isoformat(), report.end.isoformat())
    _row(writer, "From", "To")
    _row(writer, *period)
    _row(writer)
    _row(writer, "By service", "Code", "Invoiced", "Credited", "Net before tax", "Net tax")
    for s in report.by_service:
        _row(
            writer,
            s.description,
            s.fee_code,
            money(s.invoiced_cents),
            money(s.credited_cents),
            money(s.net_cents),
            money(s.tax_cents),
        )
    _row(writer)
    _row(writer, "By payer", "", "Invoiced", "Credited", "Net before tax", "Net tax")
    for p in report.by_payer:
        _row(
            writer,
            p.name,
            "",
            money(p.invoiced_cents),
            money(p.credited_cents),
            money(p.net_cents),
            money(p.tax_cents),
        )
    _row(
        writer,
        "Total",
        "",
        money(report.invoiced_cents),
        money(report.credited_cents),
        money(report.net_cents),
        money(report.tax_cents),
    )
    _row(writer)
    _row(writer, "Payments by method", "", "Received", "Refunded", "Net")
    for m in report.by_method:
        _row(
            writer,
            m.label,
            "",
            money(m.received_cents),
            money(m.refunded_cents),
            money(m.net_cents),
        )
    _row(
        writer,
        "Total",
        "",
        money(report.received_cents),
        money(report.refunded_cents),
        money(report.received_cents - report.refunded_cents),
    )
    return out.getvalue()


def day_csv(summary: DaySummary) -> str:
    out, writer = _writer()
    day = summary.day.isoformat()
    labels = dict(PaymentMethod.choices)
    _row(writer, "Day", "Section", "Item", "Count", "Amount")
    for method, cents in summary.by_method.items():
        _row(writer, day, "Payments by method", labels.get(method, method), "", money(cents))
    for clerk, cents in summary.by_clerk.items():
        _row(writer, day, "Payments by clerk", clerk, "", money(cents))
    for method, cents in summary.refunds_by_method.items():
        _row(writer, day, "Refunds by method", labels.get(method, method), "", money(cents))
    _row(writer, day, "Totals", "Payments", "", money(summary.payments_cents))
    _row(writer, day, "Totals", "Refunds", "", money(summary.refunds_cents))
    _row(writer, day, "Totals", "Invoices", summary.invoices_count, money(summary.invoiced_cents))
    _row(
        writer,
        day,
        "Totals",
        "Credit notes",
        summary.credit_notes_count,
        money(summary.credited_cents),
    )
    _row(writer, day, "Cash", "Expected in the drawer", "", money(summary.expected_cash_cents))
    for reversal in summary.adjustments:
        _row(
            writer,
            day,
            "Reversals",
            f"{labels.get(reversal.method, reversal.method)}: {reversal.reason}",
            "",
            money(reversal.amount_cents),
        )
    close = summary.closed
    if close is not None:
        _row(writer, day, "Cash", "Counted", "", money(close.counted_cash_cents))
        _row(writer, day, "Cash", "Difference", "", money(close.difference_cents))
        if close.note:
            _row(writer, day, "Close", f"Note: {close.note}", "", "")
        closed_at = timezone.localtime(close.closed_at)
        _row(writer, day, "Close", f"Closed {closed_at:%Y-%m-%d %H:%M}", "", "")
    return out.getvalue()
