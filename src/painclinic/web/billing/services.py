"""Money state changes, each in one transaction with its audit event, and the reads of balances.

Every ``do_*`` is a service (``painclinic.web.lib.service.service``): its roles come from
``billing.roles.ROLES``; a refusal (:class:`BillingError`, a ``Refused`` naming the field at
fault) is audited once, after the rollback. Money is integer cents throughout.

Rules the services keep (``docs/billing.md`` gives the why):

* an invoice's number comes from one sequence under a row lock, inside the issuing
  transaction: no gaps (a refused issue rolls the number back with it) and no duplicates;
* an issued invoice is never changed: a credit note refers to it; a full credit note releases
  the events it billed (:class:`Charge`) so they can be billed again, correctly;
* an event (a signed session, a missed appointment, a plan's consult or package) has at most
  one live charge: a database constraint settles two clerks billing it at once;
* tax per line (``web/lib/tax.py``), rounded half up; an insured service is never billed;
* nothing is dated on a closed day; a correction of a closed day is a later entry with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.billing.models import (
    Allocation,
    Charge,
    ChargeKind,
    Coverage,
    DailyClose,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    Payer,
    PayerKind,
    Payment,
    PaymentKind,
    PaymentMethod,
    Refund,
)
from painclinic.web.billing.roles import ROLES
from painclinic.web.infusions.models import CancelReason, InfusionSession, SessionStatus
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.service import Actor, Refused, note_subject, service
from painclinic.web.lib.tax import INSURED, tax_rules
from painclinic.web.patients.access import read_for
from painclinic.web.patients.models import Patient
from painclinic.web.scheduling.models import Booking, BookingStatus
from painclinic.web.treatments.models import FeeBasis, FeeItem, TreatmentPlan
from painclinic.web.treatments.services import fees_in_effect

CATEGORY = Category.BILLING
SEQUENCE_NAME = "invoice"
MAX_AMOUNT_CENTS = 100_000_000  # $1,000,000: anything above is a typing error


class BillingError(Refused):
    """A refused money entry, nothing saved: ``field`` names the input at fault."""


# --- small helpers -----------------------------------------------------------------------------


def dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def _refuse_closed(day: dt.date, what: str) -> None:
    if DailyClose.objects.filter(day=day).exists():
        raise BillingError(
            f"{day:%Y-%m-%d} is closed: no {what} can be recorded on a closed day. Record it "
            "on the next open day, with the reason, as an adjustment.",
        )


def _take_number() -> int:
    """The next invoice number, under the sequence row's lock (released at commit)."""
    InvoiceSequence.objects.get_or_create(name=SEQUENCE_NAME)
    sequence = InvoiceSequence.objects.select_for_update().get(name=SEQUENCE_NAME)
    number = sequence.next_number
    sequence.next_number = number + 1
    sequence.save(update_fields=["next_number"])
    return number


def _address_of(patient: Patient) -> str:
    parts = [patient.address_line, f"{patient.city} {patient.province} {patient.postal_code}"]
    return "\n".join(part.strip() for part in parts if part.strip())


def patient_display_name(patient: Patient) -> str:
    return f"{patient.legal_given_name} {patient.legal_family_name}"


def _session_minutes(steps: Any) -> int | None:
    try:
        total = sum(float(step["duration_min"]) for step in steps)
    except (TypeError, KeyError, ValueError):
        return None
    return round(total) if total else None


def _amount(value: int, field_name: str, *, allow_zero: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BillingError("Enter an amount in dollars and cents.", field_name)
    if value < 0 or (value == 0 and not allow_zero):
        raise BillingError("The amount must be more than $0.00.", field_name)
    if value > MAX_AMOUNT_CENTS:
        raise BillingError("That is more than $1,000,000: check the amount.", field_name)
    return value


# --- balances (reads) --------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceBalance:
    total_cents: int
    credited_cents: int
    paid_cents: int

    @property
    def balance_cents(self) -> int:
        return self.total_cents - self.credited_cents - self.paid_cents


def balances(invoices: Sequence[Invoice]) -> dict[int, InvoiceBalance]:
    """Balance of each invoice (credit notes get a zero balance): two queries, any number."""
    ids = [invoice.pk for invoice in invoices if invoice.kind == InvoiceKind.INVOICE]
    credited: dict[int, int] = defaultdict(int)
    paid: dict[int, int] = defaultdict(int)
    if ids:
        for row in (
            Invoice.objects.filter(credits_id__in=ids)
            .values("credits_id")
            .annotate(total=Sum("total_cents"))
        ):
            credited[row["credits_id"]] = int(row["total"] or 0)
        for paid_row in (
            Allocation.objects.filter(invoice_id__in=ids)
            .values("invoice_id")
            .annotate(total=Sum("amount_cents"))
        ):
            paid[paid_row["invoice_id"]] = int(paid_row["total"] or 0)
    out = {}
    for invoice in invoices:
        if invoice.kind == InvoiceKind.CREDIT_NOTE:
            out[invoice.pk] = InvoiceBalance(invoice.total_cents, invoice.total_cents, 0)
        else:
            out[invoice.pk] = InvoiceBalance(
                invoice.total_cents, credited[invoice.pk], paid[invoice.pk]
            )
    return out


def balance_of(invoice: Invoice) -> InvoiceBalance:
    return balances([invoice])[invoice.pk]


def unapplied_many(payments: list[Payment]) -> dict[int, int]:
    """Each payment's unapplied cents: amount + its reversal - allocations - refunds, in three
    queries whatever the number of payments."""
    ids = [p.pk for p in payments]
    allocated = {
        row["payment_id"]: int(row["total"] or 0)
        for row in Allocation.objects.filter(payment_id__in=ids)
        .values("payment_id")
        .annotate(total=Sum("amount_cents"))
    }
    refunded = {
        row["payment_id"]: int(row["total"] or 0)
        for row in Refund.objects.filter(payment_id__in=ids)
        .values("payment_id")
        .annotate(total=Sum("amount_cents"))
    }
    reversed_ = dict(
        Payment.objects.filter(reverses_id__in=ids).values_list("reverses_id", "amount_cents")
    )
    return {
        p.pk: p.amount_cents
        + int(reversed_.get(p.pk, 0))
        - allocated.get(p.pk, 0)
        - refunded.get(p.pk, 0)
        for p in payments
    }


def unapplied_cents(payment: Payment) -> int:
    """What is left of a payment after its allocations, refunds and reversal."""
    return unapplied_many([payment])[payment.pk]


def patient_credit_cents(patient: Patient, *, plan: TreatmentPlan | None = None) -> int:
    """The patient's own money on account (payments and deposits not yet applied or refunded)."""
    payments = Payment.objects.filter(patient=patient, payer__isnull=True).exclude(
        kind=PaymentKind.REVERSAL
    )
    if plan is not None:
        payments = payments.filter(plan=plan)
    return sum(max(cents, 0) for cents in unapplied_many(list(payments)).values())


def with_balance(invoices: Any) -> Any:
    """``invoices`` annotated with ``balance``: total - credit notes - allocations, in SQL
    (the same sum as :func:`balances`, for lists that filter or sort by it)."""
    credited = (
        Invoice.objects.filter(credits=OuterRef("pk"))
        .values("credits")
        .annotate(t=Sum("total_cents"))
        .values("t")
    )
    paid = (
        Allocation.objects.filter(invoice=OuterRef("pk"))
        .values("invoice")
        .annotate(t=Sum("amount_cents"))
        .values("t")
    )
    return invoices.annotate(
        balance=F("total_cents")
        - Coalesce(Subquery(credited), Value(0))
        - Coalesce(Subquery(paid), Value(0))
    )


def open_past_due(invoices: Any, on_or_before: dt.date) -> Any:
    """Narrow ``invoices`` to those still owing and due on or before a date, by their standing
    (a partial index of the few open ones), before any balance is worked out."""
    from painclinic.web.billing.models import InvoiceStanding

    open_ids = InvoiceStanding.objects.filter(balance_cents__gt=0, due_on__lte=on_or_before).values(
        "invoice_id"
    )
    return invoices.filter(pk__in=open_ids)


def overdue_invoices(today: dt.date) -> Any:
    """Invoices past their due date with a balance, oldest due first; the balance shown is
    worked out from the money rows."""
    return (
        with_balance(
            open_past_due(
                Invoice.objects.filter(kind=InvoiceKind.INVOICE, due_on__lt=today),
                today - dt.timedelta(days=1),
            )
        )
        .filter(balance__gt=0)
        .select_related("patient")
        .order_by("due_on", "number")
    )


def rebuild_standings() -> int:
    """Recompute every invoice's standing in SQL (after bulk loads, which send no signals).

    Returns how many invoices it covers."""
    from painclinic.web.billing.models import InvoiceStanding

    rows = with_balance(Invoice.objects.filter(kind=InvoiceKind.INVOICE)).values_list(
        "pk", "due_on", "balance"
    )
    with transaction.atomic():
        InvoiceStanding.objects.all().delete()  # a read aid, rebuilt whole; no money row
        made = InvoiceStanding.objects.bulk_create(
            (
                InvoiceStanding(invoice_id=pk, due_on=due, balance_cents=bal)
                for pk, due, bal in rows
            ),
            batch_size=2000,
        )
    return len(made)


# --- payers and coverage -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PayerInput:
    name: str
    kind: str
    address: str = ""
    phone: str = ""
    email: str = ""


@service(ROLES.add_payer, category=CATEGORY, action=Action.CREATE)
def do_add_payer(actor: Actor, data: PayerInput) -> Payer:
    if not data.name.strip():
        raise BillingError("Name the payer.", "name")
    if data.kind not in PayerKind.values:
        raise BillingError("Choose the kind of payer.", "kind")
    with transaction.atomic():
        payer = Payer.objects.create(
            name=data.name.strip(),
            kind=data.kind,
            address=data.address.strip(),
            phone=data.phone.strip(),
            email=data.email.strip(),
            created_by=actor.user,
            created_at=timezone.now(),
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            obj=payer,
            detail={"payer": payer.name, "kind": payer.kind},
        )
    return payer


@dataclass(frozen=True, kw_only=True)
class CoverageInput:
    payer_id: int
    payer_share_basis_points: int
    claim_number: str = ""
    policy_number: str = ""
    plan_name: str = ""
    group_number: str = ""
    member_id: str = ""


def _check_coverage_numbers(payer: Payer, data: CoverageInput) -> None:
    if payer.kind == PayerKind.WSIB and not data.claim_number.strip():
        raise BillingError("WSIB needs the claim number.", "claim_number")
    if payer.kind == PayerKind.AUTO:
        if not data.claim_number.strip():
            raise BillingError("An auto insurer needs the claim number.", "claim_number")
        if not data.policy_number.strip():
            raise BillingError("An auto insurer needs the policy number.", "policy_number")
    if payer.kind == PayerKind.PRIVATE_PLAN and not data.member_id.strip():
        raise BillingError("A private plan needs the member ID.", "member_id")


@service(ROLES.add_coverage, category=CATEGORY, action=Action.CREATE)
def do_add_coverage(actor: Actor, patient_id: int, data: CoverageInput) -> Coverage:
    """Record a patient's claim or plan with a payer and the payer's share of each service."""
    with transaction.atomic():
        patient = Patient.objects.get(pk=patient_id)
        note_subject(patient=patient)
        payer = Payer.objects.filter(pk=data.payer_id, active=True).first()
        if payer is None:
            raise BillingError("Choose a payer from the list.", "payer_id")
        if not 0 < data.payer_share_basis_points <= 10_000:
            raise BillingError(
                "The payer's share is a percentage above 0 and at most 100.",
                "payer_share_basis_points",
            )
        _check_coverage_numbers(payer, data)
        coverage = Coverage.objects.create(
            patient=patient,
            payer=payer,
            claim_number=data.claim_number.strip(),
            policy_number=data.policy_number.strip(),
            plan_name=data.plan_name.strip(),
            group_number=data.group_number.strip(),
            member_id=data.member_id.strip(),
            payer_share_basis_points=data.payer_share_basis_points,
            created_by=actor.user,
            created_at=timezone.now(),
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=patient,
            obj=coverage,
            detail={"payer": payer.name, "share_basis_points": data.payer_share_basis_points},
        )
    return coverage


@service(ROLES.end_coverage, category=CATEGORY, action=Action.UPDATE)
def do_end_coverage(actor: Actor, coverage_id: int, reason: str) -> Coverage:
    if not reason.strip():
        raise BillingError("Say why the coverage ends.", "reason")
    with transaction.atomic():
        coverage = Coverage.objects.select_for_update().get(pk=coverage_id)
        note_subject(patient=coverage.patient, obj=coverage)
        if not coverage.active:
            raise BillingError("This coverage has already ended.")
        coverage.active = False
        coverage.ended_by = actor.user
        coverage.ended_at = timezone.now()
        coverage.end_reason = reason.strip()
        coverage.save(update_fields=["active", "ended_by", "ended_at", "end_reason"])
        audit(
            actor,
            category=CATEGORY,
            action=Action.UPDATE,
            patient=coverage.patient,
            obj=coverage,
            detail={"before": {"active": True}, "after": {"active": False}, "reason": reason},
        )
    return coverage


# --- what can be billed ------------------------------------------------------------------------


@dataclass(frozen=True)
class Billable:
    """A clinical event not yet billed: a signed session or a missed appointment."""

    kind: str  # ChargeKind value
    session: InfusionSession
    service_date: dt.date
    description: str


def billable_sessions(
    patient: Patient | None = None, *, limit: int | None = None
) -> list[Billable]:
    """Signed and did-not-attend sessions without a live charge, in the order they were
    opened (oldest first)."""
    # The sessions' ``billed`` flag (kept by the charge writers below) narrows the read to the
    # unbilled few through a partial index; the NOT EXISTS probe of the live charges keeps the
    # answer right even if a flag were ever wrong.
    live = Charge.objects.filter(
        session=OuterRef("pk"),
        credited_by__isnull=True,
        kind__in=[ChargeKind.SESSION, ChargeKind.MISSED],
    )
    sessions = InfusionSession.objects.all()
    if patient is not None:
        sessions = sessions.filter(patient=patient)
    sessions = (
        # Both conditions of the partial index spelled out, so the planner can walk it.
        sessions.filter(billed=False, status__in=[SessionStatus.SIGNED, SessionStatus.CANCELLED])
        .filter(
            Q(status=SessionStatus.SIGNED)
            | Q(status=SessionStatus.CANCELLED, cancellation__reason=CancelReason.DID_NOT_ATTEND)
        )
        .filter(~Exists(live))
        .select_related("patient", "booking", "plan", "planned_session")
        # In the order the sessions were opened (their clinic day): the index's order, so the
        # first few come without sorting the clinic's whole backlog.
        .order_by("pk")
    )
    if limit is not None:
        sessions = sessions[:limit]
    out = []
    for session in sessions:
        day = timezone.localtime(session.booking.starts_at).date()
        if session.status == SessionStatus.SIGNED:
            out.append(
                Billable(
                    ChargeKind.SESSION,
                    session,
                    day,
                    f"{session.plan.get_drug_display()} infusion, session "
                    f"{session.planned_session.number}",
                )
            )
        else:
            out.append(Billable(ChargeKind.MISSED, session, day, "Missed appointment"))
    return out


@dataclass
class _Line:
    fee: FeeItem | None
    fee_code: str
    description: str
    quantity: int
    unit_cents: int
    tax_category: str
    service_date: dt.date | None
    drug: str = ""
    session_minutes: int | None = None
    session: InfusionSession | None = None
    booking: Booking | None = None

    @property
    def amount_cents(self) -> int:
        return self.unit_cents * self.quantity


def _fee_applies(item: FeeItem, plan: TreatmentPlan) -> bool:
    return (not item.drug or item.drug == plan.drug) and (
        not item.protocol_id or item.protocol_id == plan.protocol_id
    )


def _live_plan_charge(plan: TreatmentPlan, kind: str) -> Charge | None:
    return Charge.objects.filter(plan=plan, kind=kind, credited_by__isnull=True).first()


def _lines_for_session(
    billable: Billable, fees: list[FeeItem], *, consult_billed: set[int], package: Charge | None
) -> list[_Line]:
    session = billable.session
    plan = session.plan
    minutes = _session_minutes(session.planned_session.steps)
    lines: list[_Line] = []
    if billable.kind == ChargeKind.MISSED:
        for item in fees:
            if item.basis == FeeBasis.MISSED and _fee_applies(item, plan):
                lines.append(
                    _Line(
                        item,
                        item.code,
                        f"{item.description} (booked {billable.service_date:%Y-%m-%d})",
                        1,
                        item.amount_cents,
                        item.tax_category,
                        billable.service_date,
                        session=session,
                        booking=session.booking,
                    )
                )
        return lines
    if plan.pk not in consult_billed and _live_plan_charge(plan, ChargeKind.CONSULT) is None:
        for item in fees:
            if item.basis == FeeBasis.PER_CONSULT and _fee_applies(item, plan):
                lines.append(
                    _Line(
                        item,
                        item.code,
                        item.description,
                        1,
                        item.amount_cents,
                        item.tax_category,
                        billable.service_date,
                        drug=plan.drug,
                    )
                )
        consult_billed.add(plan.pk)
    for item in fees:
        if item.basis != FeeBasis.PER_SESSION or not _fee_applies(item, plan):
            continue
        if not item.fits_length(minutes):
            continue
        in_package = package is not None and item.drug == plan.drug
        drug = str(plan.get_drug_display())
        # The receipt names the drug and the session's length once (an insurer asks for both).
        which = "" if drug.lower() in item.description.lower() else f"{drug.lower()} "
        description = f"{item.description}: {which}session {session.planned_session.number}" + (
            f", {minutes} min infusion" if minutes else ""
        )
        if package is not None and in_package:
            description += f" (included in series package {package.invoice.display_number})"
        lines.append(
            _Line(
                item,
                item.code,
                description,
                1,
                0 if in_package else item.amount_cents,
                item.tax_category,
                billable.service_date,
                drug=plan.drug,
                session_minutes=minutes,
                session=session,
            )
        )
    return lines


@dataclass(frozen=True)
class IssueResult:
    """The invoices one issue wrote: the patient's, and the payer's when the bill is split."""

    patient_invoice: Invoice | None
    payer_invoice: Invoice | None
    deposit_applied_cents: int = 0

    @property
    def invoices(self) -> list[Invoice]:
        return [i for i in (self.payer_invoice, self.patient_invoice) if i is not None]


def _provider_of(plan: TreatmentPlan | None) -> tuple[Any, str, str]:
    if plan is None:
        return None, "", ""
    physician = plan.prescribed_by
    name = physician.get_full_name() or physician.username
    return physician, f"Dr. {name}", physician.registration_number


def _write_invoice(
    actor: Actor,
    *,
    patient: Patient,
    lines: list[_Line],
    amounts: list[int],
    coverage: Coverage | None,
    plan: TreatmentPlan | None,
    note: str = "",
    kind: str = InvoiceKind.INVOICE,
    credits: Invoice | None = None,
    full_credit: bool = False,
    split_with: Invoice | None = None,
    taxes: list[int] | None = None,
    today: dt.date,
) -> Invoice:
    """Write one invoice or credit note with its lines; ``taxes`` overrides the per-line tax
    (a partial credit gives back exactly the tax it names)."""
    if taxes is None:
        rules = tax_rules()
        taxes = [
            rules.line_tax_cents(amount, line.tax_category, line.service_date or today)
            for line, amount in zip(lines, amounts, strict=True)
        ]
    subtotal = sum(amounts)
    tax = sum(taxes)
    provider, provider_name, registration = _provider_of(plan)
    if coverage is not None:
        bill_to_name, bill_to_address = coverage.payer.name, coverage.payer.address
    else:
        bill_to_name, bill_to_address = patient_display_name(patient), _address_of(patient)
    invoice = Invoice.objects.create(
        number=_take_number(),
        kind=kind,
        patient=patient,
        coverage=coverage,
        bill_to_name=bill_to_name,
        bill_to_address=bill_to_address,
        credits=credits,
        full_credit=full_credit,
        split_with=split_with,
        plan=plan,
        provider=provider,
        provider_name=provider_name,
        provider_registration=registration,
        issued_on=today,
        due_on=today + dt.timedelta(days=settings.INVOICE_DUE_DAYS)
        if kind == InvoiceKind.INVOICE
        else None,
        issued_at=timezone.now(),
        issued_by=actor.user,
        subtotal_cents=subtotal,
        tax_cents=tax,
        total_cents=subtotal + tax,
        note=note,
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            fee_code=line.fee_code,
            description=line.description,
            service_date=line.service_date,
            quantity=line.quantity,
            unit_cents=line.unit_cents,
            amount_cents=amount,
            full_amount_cents=line.amount_cents,
            tax_category=line.tax_category,
            tax_cents=line_tax,
            drug=line.drug,
            session_minutes=line.session_minutes,
            session=line.session,
            booking=line.booking,
        )
        for position, (line, amount, line_tax) in enumerate(
            zip(lines, amounts, taxes, strict=True), start=1
        )
    )
    return invoice


def _split(lines: list[_Line], coverage: Coverage | None) -> tuple[list[int], list[int]]:
    """(payer's amounts, patient's amounts) per line: the payer's share rounded half up."""
    if coverage is None:
        return [0] * len(lines), [line.amount_cents for line in lines]
    points = coverage.payer_share_basis_points
    payer = [(line.amount_cents * points + 5_000) // 10_000 for line in lines]
    return payer, [line.amount_cents - share for line, share in zip(lines, payer, strict=True)]


def _issue(
    actor: Actor,
    *,
    patient: Patient,
    lines: list[_Line],
    coverage: Coverage | None,
    plan: TreatmentPlan | None,
    note: str,
    today: dt.date,
) -> IssueResult:
    """Write the payer's and the patient's invoices for ``lines`` (one of them when not split)."""
    for line in lines:
        if line.tax_category == INSURED:
            raise BillingError(
                f"{line.fee_code} is an insured service: it is billed to OHIP, never to the "
                "patient or a third party.",
                "fee_code",
            )
    payer_amounts, patient_amounts = _split(lines, coverage)
    payer_invoice = patient_invoice = None
    if coverage is not None and any(payer_amounts):
        payer_invoice = _write_invoice(
            actor,
            patient=patient,
            lines=lines,
            amounts=payer_amounts,
            coverage=coverage,
            plan=plan,
            note=note,
            today=today,
        )
    if any(patient_amounts) or payer_invoice is None:
        patient_invoice = _write_invoice(
            actor,
            patient=patient,
            lines=lines,
            amounts=patient_amounts,
            coverage=None,
            plan=plan,
            note=note,
            split_with=payer_invoice,
            today=today,
        )
    return IssueResult(patient_invoice, payer_invoice)


def _apply_deposits(actor: Actor, invoice: Invoice, plan: TreatmentPlan | None) -> int:
    """Apply the patient's unapplied deposits for ``plan`` to ``invoice``; returns cents applied."""
    if plan is None:
        return 0
    due = balance_of(invoice).balance_cents
    applied = 0
    deposits = Payment.objects.filter(
        patient=invoice.patient, plan=plan, kind=PaymentKind.DEPOSIT, payer__isnull=True
    ).order_by("received_at", "pk")
    for deposit in deposits:
        if due <= 0:
            break
        available = unapplied_cents(deposit)
        if available <= 0:
            continue
        amount = min(available, due)
        Allocation.objects.create(
            payment=deposit,
            invoice=invoice,
            amount_cents=amount,
            created_at=timezone.now(),
            created_by=actor.user,
        )
        due -= amount
        applied += amount
    return applied


def _invoice_detail(result: IssueResult) -> dict[str, Any]:
    return {
        "invoices": [
            {
                "number": invoice.display_number,
                "bill_to": "payer" if invoice.coverage_id else "patient",
                "total_cents": invoice.total_cents,
                "tax_cents": invoice.tax_cents,
            }
            for invoice in result.invoices
        ],
        "deposit_applied_cents": result.deposit_applied_cents,
    }


def _coverage_for(patient: Patient, coverage_id: int | None) -> Coverage | None:
    if coverage_id is None:
        return None
    coverage = (
        Coverage.objects.select_related("payer")
        .filter(pk=coverage_id, patient=patient, active=True)
        .first()
    )
    if coverage is None:
        raise BillingError("Choose one of this patient's active coverages.", "coverage_id")
    return coverage


@service(ROLES.issue_session_invoice, category=CATEGORY, action=Action.CREATE)
def do_issue_session_invoice(
    actor: Actor, patient_id: int, session_ids: Iterable[int], *, coverage_id: int | None = None
) -> IssueResult:
    """Invoice signed (or did-not-attend) sessions of one patient from the fee schedule.

    Each session's per-session fees (of its drug, protocol and length), the plan's consult fee
    on the first invoice of the plan, a missed-appointment fee for a session not attended. A
    session covered by a paid-for series package is listed at $0. With a coverage, the payer
    is invoiced its share and the patient the rest. The patient's deposits for the plan are
    applied to the patient's invoice.
    """
    ids = sorted({int(i) for i in session_ids})
    if not ids:
        raise BillingError("Choose at least one session to invoice.", "session_ids")
    today = clinic_today()
    with transaction.atomic():
        patient = Patient.objects.get(pk=patient_id)
        note_subject(patient=patient)
        _refuse_closed(today, "invoice")
        # Lock the sessions (in id order, the lock order's "clinical rows") so two clerks
        # cannot bill one session: the second waits, then finds the live charge.
        sessions = {
            s.pk: s
            for s in InfusionSession.objects.select_for_update()
            .filter(pk__in=ids, patient=patient)
            .order_by("pk")
        }
        if len(sessions) != len(ids):
            raise BillingError("One of those sessions is not this patient's.", "session_ids")
        billables = {b.session.pk: b for b in billable_sessions(patient)}
        missing = [pk for pk in ids if pk not in billables]
        if missing:
            raise BillingError(
                "A session is already billed, or its note is not signed yet: reload the list.",
                "session_ids",
            )
        chosen = [billables[pk] for pk in ids]
        if len({b.session.plan_id for b in chosen}) != 1:
            raise BillingError("Invoice one treatment plan's sessions at a time.", "session_ids")
        plan = chosen[0].session.plan
        fees = fees_in_effect(today)
        coverage = _coverage_for(patient, coverage_id)
        consult_billed: set[int] = set()
        lines: list[_Line] = []
        per_session: list[tuple[Billable, list[_Line]]] = []
        for billable in chosen:
            package = _live_plan_charge(billable.session.plan, ChargeKind.PACKAGE)
            session_lines = _lines_for_session(
                billable, fees, consult_billed=consult_billed, package=package
            )
            if not session_lines:
                what = (
                    "a missed-appointment fee"
                    if billable.kind == ChargeKind.MISSED
                    else "a per-session fee"
                )
                raise BillingError(
                    f"The fee schedule has no {what} for {billable.description} on "
                    f"{billable.service_date:%Y-%m-%d}: add one, or leave this session out.",
                    "session_ids",
                )
            per_session.append((billable, session_lines))
            lines.extend(session_lines)
        result = _issue(
            actor,
            patient=patient,
            lines=lines,
            coverage=coverage,
            plan=plan,
            note="",
            today=today,
        )
        main = result.patient_invoice or result.payer_invoice
        assert main is not None
        now = timezone.now()
        try:
            with transaction.atomic():
                for billable, session_lines in per_session:
                    Charge.objects.create(
                        kind=billable.kind,
                        patient=patient,
                        plan=billable.session.plan,
                        session=billable.session,
                        booking=billable.session.booking,
                        invoice=main,
                        payer_invoice=result.payer_invoice if result.patient_invoice else None,
                        created_at=now,
                    )
                    if any(
                        line.fee and line.fee.basis == FeeBasis.PER_CONSULT
                        for line in session_lines
                    ):
                        Charge.objects.create(
                            kind=ChargeKind.CONSULT,
                            patient=patient,
                            plan=billable.session.plan,
                            invoice=main,
                            payer_invoice=result.payer_invoice if result.patient_invoice else None,
                            created_at=now,
                        )
        except IntegrityError:
            raise BillingError(
                "Someone billed one of these sessions a moment ago: reload the list.",
                "session_ids",
            ) from None
        InfusionSession.objects.filter(pk__in=ids).update(billed=True)
        applied = 0
        if result.patient_invoice is not None:
            applied = _apply_deposits(actor, result.patient_invoice, plan)
        result = IssueResult(result.patient_invoice, result.payer_invoice, applied)
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=patient,
            obj=main,
            detail={**_invoice_detail(result), "sessions": ids},
        )
    return result


@service(ROLES.issue_package_invoice, category=CATEGORY, action=Action.CREATE)
def do_issue_package_invoice(
    actor: Actor, plan_id: int, fee_code: str, *, coverage_id: int | None = None
) -> IssueResult:
    """Invoice a series package for a plan: its sessions are then billed at $0."""
    today = clinic_today()
    with transaction.atomic():
        plan = TreatmentPlan.objects.select_for_update().select_related("patient").get(pk=plan_id)
        patient = plan.patient
        note_subject(patient=patient, obj=plan)
        _refuse_closed(today, "invoice")
        item = next(
            (
                fee
                for fee in fees_in_effect(today)
                if fee.code == fee_code and fee.basis == FeeBasis.PACKAGE
            ),
            None,
        )
        if item is None or not _fee_applies(item, plan):
            raise BillingError("Choose a series package of this plan's drug.", "fee_code")
        if _live_plan_charge(plan, ChargeKind.PACKAGE) is not None:
            raise BillingError("This plan's package is already invoiced.", "fee_code")
        coverage = _coverage_for(patient, coverage_id)
        line = _Line(
            item,
            item.code,
            f"{item.description} ({item.package_sessions} sessions, {plan.get_drug_display()})",
            1,
            item.amount_cents,
            item.tax_category,
            today,
            drug=plan.drug,
        )
        result = _issue(
            actor, patient=patient, lines=[line], coverage=coverage, plan=plan, note="", today=today
        )
        main = result.patient_invoice or result.payer_invoice
        assert main is not None
        try:
            with transaction.atomic():
                Charge.objects.create(
                    kind=ChargeKind.PACKAGE,
                    patient=patient,
                    plan=plan,
                    invoice=main,
                    payer_invoice=result.payer_invoice if result.patient_invoice else None,
                    created_at=timezone.now(),
                )
        except IntegrityError:
            raise BillingError("This plan's package is already invoiced.", "fee_code") from None
        applied = (
            _apply_deposits(actor, result.patient_invoice, plan) if result.patient_invoice else 0
        )
        result = IssueResult(result.patient_invoice, result.payer_invoice, applied)
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=patient,
            obj=main,
            detail={**_invoice_detail(result), "package": item.code},
        )
    return result


@dataclass(frozen=True, kw_only=True)
class ManualLineInput:
    fee_code: str
    quantity: int = 1
    service_date: dt.date | None = None
    booking_id: int | None = None  # a late cancellation names the cancelled booking


@dataclass(frozen=True, kw_only=True)
class ManualInvoiceInput:
    lines: tuple[ManualLineInput, ...]
    note: str = ""
    coverage_id: int | None = None


MANUAL_BASES = (FeeBasis.SERVICE, FeeBasis.LATE_CANCEL)


@service(ROLES.issue_manual_invoice, category=CATEGORY, action=Action.CREATE)
def do_issue_manual_invoice(actor: Actor, patient_id: int, data: ManualInvoiceInput) -> IssueResult:
    """Invoice forms, reports and late-cancellation fees by hand, from the fee schedule."""
    if not data.lines:
        raise BillingError("Add at least one service.", "fee_code")
    today = clinic_today()
    with transaction.atomic():
        patient = Patient.objects.get(pk=patient_id)
        note_subject(patient=patient)
        _refuse_closed(today, "invoice")
        fees = {fee.code: fee for fee in fees_in_effect(today) if fee.basis in MANUAL_BASES}
        coverage = _coverage_for(patient, data.coverage_id)
        lines: list[_Line] = []
        bookings: list[Booking] = []
        for entry in data.lines:
            item = fees.get(entry.fee_code)
            if item is None:
                raise BillingError(
                    "Choose a form, report or cancellation fee from the fee schedule.", "fee_code"
                )
            if not 1 <= entry.quantity <= 100:
                raise BillingError("The quantity is between 1 and 100.", "quantity")
            service_date = entry.service_date or today
            if service_date > today:
                raise BillingError("A service cannot be billed before it is given.", "service_date")
            booking = None
            if item.basis == FeeBasis.LATE_CANCEL:
                if entry.booking_id is None:
                    raise BillingError(
                        "A late-cancellation fee names the patient's cancelled booking.",
                        "booking_id",
                    )
                booking = (
                    Booking.objects.select_for_update()
                    .filter(pk=entry.booking_id, patient=patient, status=BookingStatus.CANCELLED)
                    .first()
                )
                if booking is None:
                    raise BillingError(
                        "A late-cancellation fee names the patient's cancelled booking.",
                        "booking_id",
                    )
                service_date = timezone.localtime(booking.starts_at).date()
                bookings.append(booking)
            lines.append(
                _Line(
                    item,
                    item.code,
                    item.description,
                    entry.quantity,
                    item.amount_cents,
                    item.tax_category,
                    service_date,
                    booking=booking,
                )
            )
        result = _issue(
            actor,
            patient=patient,
            lines=lines,
            coverage=coverage,
            plan=None,
            note=data.note.strip(),
            today=today,
        )
        main = result.patient_invoice or result.payer_invoice
        assert main is not None
        try:
            with transaction.atomic():
                for booking in bookings:
                    Charge.objects.create(
                        kind=ChargeKind.LATE_CANCEL,
                        patient=patient,
                        booking=booking,
                        invoice=main,
                        payer_invoice=result.payer_invoice if result.patient_invoice else None,
                        created_at=timezone.now(),
                    )
        except IntegrityError:
            raise BillingError("That cancellation is already billed.", "booking_id") from None
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=patient,
            obj=main,
            detail={**_invoice_detail(result), "codes": [line.fee_code for line in lines]},
        )
    return result


# --- credit notes -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreditInput:
    reason: str
    full: bool = True
    amount_cents: int | None = None  # a partial credit, tax included
    # The events stay billed (a payer's unpaid balance passed on to the patient): a credit of
    # the whole total is then not turned into a full credit that releases them.
    keep_charges: bool = False


def _credit_lines(
    invoice: Invoice, amount_cents: int | None
) -> tuple[list[_Line], list[int], list[int]]:
    """The credit note's (lines, amounts, taxes).

    Full: every line of the invoice with its own tax. Partial (``amount_cents``, tax
    included): taken from the invoice's untaxed lines first, then from its taxed lines, whose
    part is split into price and tax at the rate it was charged (tax = what is left after the
    price is rounded half up), so the credit note's total is exactly the amount asked and the
    tax given back is never more than the tax charged.
    """
    source = list(invoice.lines.all())
    if amount_cents is None:
        full = [
            _Line(
                None,
                line.fee_code,
                f"Credit: {line.description}",
                line.quantity,
                line.unit_cents,
                line.tax_category,
                line.service_date,
                drug=line.drug,
                session_minutes=line.session_minutes,
            )
            for line in source
        ]
        return full, [line.amount_cents for line in source], [line.tax_cents for line in source]
    untaxed = [line for line in source if not line.tax_cents]
    taxed = [line for line in source if line.tax_cents]
    untaxed_total = sum(line.amount_cents for line in untaxed)
    first = min(amount_cents, untaxed_total)
    rest = amount_cents - first
    lines: list[_Line] = []
    amounts: list[int] = []
    taxes: list[int] = []
    label = f"Credit against {invoice.display_number}"
    if first:
        lines.append(
            _Line(None, "CREDIT", label, 1, first, untaxed[0].tax_category, invoice.issued_on)
        )
        amounts.append(first)
        taxes.append(0)
    if rest:
        if not taxed:
            raise BillingError("That is more than the invoice's total.", "amount_cents")
        points = tax_rules().rate_on(taxed[0].service_date or invoice.issued_on)
        price = (rest * 10_000 * 2 + (10_000 + points.percent_basis_points)) // (
            2 * (10_000 + points.percent_basis_points)
        )
        lines.append(
            _Line(None, "CREDIT", label, 1, price, taxed[0].tax_category, invoice.issued_on)
        )
        amounts.append(price)
        taxes.append(rest - price)
    return lines, amounts, taxes


@service(ROLES.issue_credit_note, category=CATEGORY, action=Action.CREATE)
def do_issue_credit_note(actor: Actor, invoice_id: int, data: CreditInput) -> Invoice:
    """Credit an issued invoice, fully (its events may then be billed again) or by an amount."""
    if not data.reason.strip():
        raise BillingError("Say why the invoice is credited.", "reason")
    today = clinic_today()
    with transaction.atomic():
        invoice = Invoice.objects.select_related("patient", "coverage__payer", "plan").get(
            pk=invoice_id
        )
        note_subject(patient=invoice.patient, obj=invoice)
        _refuse_closed(today, "credit note")
        # Serialise credits of one invoice on the sequence row (taken below anyway).
        InvoiceSequence.objects.get_or_create(name=SEQUENCE_NAME)
        InvoiceSequence.objects.select_for_update().get(name=SEQUENCE_NAME)
        if invoice.kind != InvoiceKind.INVOICE:
            raise BillingError("A credit note cannot itself be credited.")
        state = balance_of(invoice)
        creditable = state.total_cents - state.credited_cents
        if creditable <= 0:
            raise BillingError(f"{invoice.display_number} is already fully credited.")
        if data.full:
            if state.credited_cents:
                raise BillingError(
                    f"{invoice.display_number} already has a partial credit: credit the rest "
                    f"({dollars(creditable)}) by amount.",
                    "amount_cents",
                )
            amount = None
        else:
            amount = _amount(data.amount_cents or 0, "amount_cents")
            if amount > creditable:
                raise BillingError(
                    f"At most {dollars(creditable)} of {invoice.display_number} is left to credit.",
                    "amount_cents",
                )
            if amount == creditable and not state.credited_cents and not data.keep_charges:
                amount = None  # the whole invoice: a full credit, which releases its events
        lines, amounts, taxes = _credit_lines(invoice, amount)
        note = data.reason.strip()
        credit = _write_invoice(
            actor,
            patient=invoice.patient,
            lines=lines,
            amounts=amounts,
            coverage=invoice.coverage,
            plan=invoice.plan,
            note=note,
            kind=InvoiceKind.CREDIT_NOTE,
            credits=invoice,
            full_credit=amount is None,
            taxes=taxes,
            today=today,
        )
        released = _release_charges(invoice, credit) if amount is None else []
        returned = _return_overpayment(actor, invoice)
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=invoice.patient,
            obj=credit,
            detail={
                "credit_note": credit.display_number,
                "credits": invoice.display_number,
                "total_cents": credit.total_cents,
                "full": amount is None,
                "reason": data.reason.strip(),
                "released_charges": released,
                "returned_to_account_cents": returned,
            },
        )
    return credit


def _return_overpayment(actor: Actor, invoice: Invoice) -> int:
    """After a credit, money paid beyond what the invoice still asks goes back on account.

    Negative allocations take it off the invoice, latest payment first, so it is the payer's
    (or the patient's) unapplied money again: a deposit is used again by the corrected invoice,
    and money on account can be applied elsewhere or refunded. Returns the cents moved.
    """
    over = -balance_of(invoice).balance_cents
    moved = 0
    if over <= 0:
        return 0
    per_payment = (
        Allocation.objects.filter(invoice=invoice)
        .values("payment_id")
        .annotate(total=Sum("amount_cents"), last=Max("created_at"))
        .order_by("-last", "-payment_id")
    )
    now = timezone.now()
    for row in per_payment:
        take = min(over - moved, int(row["total"] or 0))
        if take <= 0:
            continue
        Allocation.objects.create(
            payment_id=row["payment_id"],
            invoice=invoice,
            amount_cents=-take,
            created_at=now,
            created_by=actor.user,
        )
        moved += take
        if moved >= over:
            break
    return moved


def _fully_credited(invoice: Invoice | None) -> bool:
    if invoice is None:
        return True
    return Invoice.objects.filter(credits=invoice, full_credit=True).exists()


def _release_charges(invoice: Invoice, credit: Invoice) -> list[int]:
    released = []
    charges = Charge.objects.select_for_update().filter(
        Q(invoice=invoice) | Q(payer_invoice=invoice), credited_by__isnull=True
    )
    for charge in charges:
        if _fully_credited(charge.invoice) and _fully_credited(charge.payer_invoice):
            charge.credited_by = credit
            charge.save(update_fields=["credited_by"])
            if charge.session_id is not None:
                InfusionSession.objects.filter(pk=charge.session_id).update(billed=False)
            released.append(charge.pk)
    return released


@service(ROLES.transfer_to_patient, category=CATEGORY, action=Action.CREATE)
def do_transfer_to_patient(actor: Actor, invoice_id: int, reason: str) -> IssueResult:
    """A payer paid less than billed: credit the payer's unpaid balance and invoice the patient
    for it (lines name the payer and the invoice), so the remainder stays visible and owed."""
    if not reason.strip():
        raise BillingError("Say why the patient now owes the rest.", "reason")
    today = clinic_today()
    with transaction.atomic():
        invoice = Invoice.objects.select_related("patient", "coverage__payer", "plan").get(
            pk=invoice_id
        )
        note_subject(patient=invoice.patient, obj=invoice)
        if invoice.kind != InvoiceKind.INVOICE or invoice.coverage_id is None:
            raise BillingError("Only a payer's invoice can pass its unpaid balance to the patient.")
        remainder = balance_of(invoice).balance_cents
        if remainder <= 0:
            raise BillingError(f"{invoice.display_number} has nothing left unpaid.")
        credit = do_issue_credit_note(
            actor,
            invoice.pk,
            CreditInput(
                reason=f"Unpaid by {invoice.bill_to_name}: {reason.strip()}",
                full=False,
                amount_cents=remainder,
                keep_charges=True,
            ),
        )
        credit_lines = list(credit.lines.all())
        lines = [
            _Line(
                None,
                "PAYER-SHORTFALL",
                f"Not paid by {invoice.bill_to_name} on {invoice.display_number} "
                f"(credit note {credit.display_number})",
                1,
                line.amount_cents,
                line.tax_category,
                invoice.issued_on,
            )
            for line in credit_lines
        ]
        patient_invoice = _write_invoice(
            actor,
            patient=invoice.patient,
            lines=lines,
            amounts=[line.amount_cents for line in credit_lines],
            taxes=[line.tax_cents for line in credit_lines],
            coverage=None,
            plan=invoice.plan,
            note=reason.strip(),
            today=today,
        )
        result = IssueResult(patient_invoice, None)
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=invoice.patient,
            obj=patient_invoice,
            detail={**_invoice_detail(result), "from_payer_invoice": invoice.display_number},
        )
    return result


# --- payments, deposits, refunds ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PaymentInput:
    amount_cents: int
    method: str
    reference: str = ""


def _check_method(data: PaymentInput, *, payer: Payer | None) -> None:
    if data.method not in PaymentMethod.values:
        raise BillingError("Choose how it was paid.", "method")
    if data.method == PaymentMethod.INSURER and payer is None:
        raise BillingError("A direct insurer payment is recorded on the payer's invoice.", "method")
    if data.method == PaymentMethod.CHEQUE and not data.reference.strip():
        raise BillingError("Enter the cheque number.", "reference")


@service(ROLES.record_payment, category=CATEGORY, action=Action.CREATE)
def do_record_payment(actor: Actor, invoice_id: int, data: PaymentInput) -> Payment:
    """A payment on one invoice (partial or the balance; never more than the balance). On a
    payer's invoice the payer paid it."""
    amount = _amount(data.amount_cents, "amount_cents")
    today = clinic_today()
    with transaction.atomic():
        invoice = Invoice.objects.select_related("patient", "coverage__payer").get(pk=invoice_id)
        note_subject(patient=invoice.patient, obj=invoice)
        _refuse_closed(today, "payment")
        if invoice.kind != InvoiceKind.INVOICE:
            raise BillingError("A credit note is not paid.")
        # Serialise payments on one invoice: lock the patient's row (payments, then allocations).
        Patient.objects.select_for_update().filter(pk=invoice.patient_id).first()
        payer = invoice.coverage.payer if invoice.coverage is not None else None
        _check_method(data, payer=payer)
        balance = balance_of(invoice).balance_cents
        if balance <= 0:
            raise BillingError(f"{invoice.display_number} is paid in full.", "amount_cents")
        if amount > balance:
            raise BillingError(
                f"That is more than the balance of {dollars(balance)}: take {dollars(balance)}, "
                "or record the rest as a deposit.",
                "amount_cents",
            )
        now = timezone.now()
        payment = Payment.objects.create(
            kind=PaymentKind.PAYMENT,
            patient=invoice.patient,
            payer=payer,
            plan=invoice.plan,
            method=data.method,
            amount_cents=amount,
            reference=data.reference.strip(),
            received_on=today,
            received_at=now,
            received_by=actor.user,
        )
        Allocation.objects.create(
            payment=payment,
            invoice=invoice,
            amount_cents=amount,
            created_at=now,
            created_by=actor.user,
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=invoice.patient,
            obj=payment,
            detail={
                "invoice": invoice.display_number,
                "amount_cents": amount,
                "method": data.method,
                "balance_after_cents": balance - amount,
            },
        )
    return payment


@service(ROLES.record_deposit, category=CATEGORY, action=Action.CREATE)
def do_record_deposit(actor: Actor, plan_id: int, data: PaymentInput) -> Payment:
    """A deposit taken before a series: applied to the plan's invoices as they are issued."""
    amount = _amount(data.amount_cents, "amount_cents")
    today = clinic_today()
    with transaction.atomic():
        plan = TreatmentPlan.objects.select_related("patient").get(pk=plan_id)
        note_subject(patient=plan.patient, obj=plan)
        _refuse_closed(today, "deposit")
        _check_method(data, payer=None)
        payment = Payment.objects.create(
            kind=PaymentKind.DEPOSIT,
            patient=plan.patient,
            plan=plan,
            method=data.method,
            amount_cents=amount,
            reference=data.reference.strip(),
            received_on=today,
            received_at=timezone.now(),
            received_by=actor.user,
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=plan.patient,
            obj=payment,
            detail={"deposit_cents": amount, "method": data.method, "plan": plan.pk},
        )
    return payment


@service(ROLES.apply_credit, category=CATEGORY, action=Action.CREATE)
def do_apply_credit(
    actor: Actor, payment_id: int, invoice_id: int, amount_cents: int
) -> Allocation:
    """Apply money on account (a deposit, an unapplied payment) to one of the patient's invoices."""
    amount = _amount(amount_cents, "amount_cents")
    with transaction.atomic():
        payment = Payment.objects.select_related("patient").get(pk=payment_id)
        note_subject(patient=payment.patient, obj=payment)
        Patient.objects.select_for_update().filter(pk=payment.patient_id).first()
        invoice = Invoice.objects.filter(
            pk=invoice_id, patient=payment.patient, kind=InvoiceKind.INVOICE
        ).first()
        if invoice is None:
            raise BillingError("Choose one of this patient's invoices.", "invoice_id")
        if (invoice.coverage_id is None) != (payment.payer_id is None):
            raise BillingError(
                "The patient's money goes on the patient's invoices, a payer's on the payer's.",
                "invoice_id",
            )
        available = unapplied_cents(payment)
        balance = balance_of(invoice).balance_cents
        if amount > available:
            raise BillingError(
                f"Only {dollars(available)} of that payment is unapplied.", "amount_cents"
            )
        if amount > balance:
            raise BillingError(f"The invoice's balance is {dollars(balance)}.", "amount_cents")
        allocation = Allocation.objects.create(
            payment=payment,
            invoice=invoice,
            amount_cents=amount,
            created_at=timezone.now(),
            created_by=actor.user,
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=payment.patient,
            obj=allocation,
            detail={"invoice": invoice.display_number, "amount_cents": amount},
        )
    return allocation


@dataclass(frozen=True, kw_only=True)
class RefundInput:
    amount_cents: int
    method: str
    reason: str
    reference: str = ""


@service(ROLES.refund, category=CATEGORY, action=Action.CREATE)
def do_refund(actor: Actor, payment_id: int, data: RefundInput) -> Refund:
    """Give money back from a payment: from its unapplied part, then from what it overpaid on
    invoices (after a credit note). What is still owed on an invoice is never refunded."""
    amount = _amount(data.amount_cents, "amount_cents")
    if not data.reason.strip():
        raise BillingError("Say why the money is given back.", "reason")
    if data.method not in PaymentMethod.values or data.method == PaymentMethod.INSURER:
        raise BillingError("Choose how the money is given back.", "method")
    today = clinic_today()
    with transaction.atomic():
        payment = Payment.objects.select_related("patient").get(pk=payment_id)
        note_subject(patient=payment.patient, obj=payment)
        _refuse_closed(today, "refund")
        Patient.objects.select_for_update().filter(pk=payment.patient_id).first()
        if payment.kind == PaymentKind.REVERSAL or hasattr(payment, "reversal"):
            raise BillingError("A reversed payment cannot be refunded.")
        free = max(unapplied_cents(payment), 0)
        # Overpayment this payment made on invoices that were credited afterwards.
        taken_back: list[tuple[Invoice, int]] = []
        need = amount - free
        if need > 0:
            per_invoice = (
                Allocation.objects.filter(payment=payment)
                .values("invoice_id")
                .annotate(total=Sum("amount_cents"))
            )
            for row in per_invoice:
                if need <= 0:
                    break
                invoice = Invoice.objects.get(pk=row["invoice_id"])
                over = -balance_of(invoice).balance_cents
                take = min(over, int(row["total"] or 0), need)
                if take > 0:
                    taken_back.append((invoice, take))
                    need -= take
        if need > 0:
            available = amount - need
            raise BillingError(
                f"At most {dollars(available)} of this payment can be refunded: the rest pays "
                "what is still owed. Credit the invoice first if the patient should not pay it.",
                "amount_cents",
            )
        now = timezone.now()
        for invoice, take in taken_back:
            Allocation.objects.create(
                payment=payment,
                invoice=invoice,
                amount_cents=-take,
                created_at=now,
                created_by=actor.user,
            )
        refund = Refund.objects.create(
            payment=payment,
            amount_cents=amount,
            method=data.method,
            reference=data.reference.strip(),
            reason=data.reason.strip(),
            refunded_on=today,
            refunded_at=now,
            refunded_by=actor.user,
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=payment.patient,
            obj=refund,
            detail={
                "payment": payment.pk,
                "amount_cents": amount,
                "method": data.method,
                "reason": data.reason.strip(),
                "from_invoices": [inv.display_number for inv, _ in taken_back],
            },
        )
    return refund


@service(ROLES.reverse_payment, category=CATEGORY, action=Action.CREATE)
def do_reverse_payment(actor: Actor, payment_id: int, reason: str) -> Payment:
    """Take back a payment entered in error (today, with a reason; its day stays as closed)."""
    if not reason.strip():
        raise BillingError("Say what was wrong with the entry.", "reason")
    today = clinic_today()
    with transaction.atomic():
        payment = Payment.objects.select_related("patient").get(pk=payment_id)
        note_subject(patient=payment.patient, obj=payment)
        _refuse_closed(today, "reversal")
        Patient.objects.select_for_update().filter(pk=payment.patient_id).first()
        if payment.kind == PaymentKind.REVERSAL:
            raise BillingError("A reversal cannot be reversed: record the payment again.")
        if Payment.objects.filter(reverses=payment).exists():
            raise BillingError("This payment is already reversed.")
        if Refund.objects.filter(payment=payment).exists():
            raise BillingError("Part of this payment was refunded: it cannot be reversed.")
        now = timezone.now()
        reversal = Payment.objects.create(
            kind=PaymentKind.REVERSAL,
            patient=payment.patient,
            payer=payment.payer,
            plan=payment.plan,
            method=payment.method,
            amount_cents=-payment.amount_cents,
            reverses=payment,
            reason=reason.strip(),
            received_on=today,
            received_at=now,
            received_by=actor.user,
        )
        for row in (
            Allocation.objects.filter(payment=payment)
            .values("invoice_id")
            .annotate(total=Sum("amount_cents"))
        ):
            if row["total"]:
                Allocation.objects.create(
                    payment=payment,
                    invoice_id=row["invoice_id"],
                    amount_cents=-int(row["total"]),
                    created_at=now,
                    created_by=actor.user,
                )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=payment.patient,
            obj=reversal,
            detail={
                "reverses": payment.pk,
                "amount_cents": payment.amount_cents,
                "received_on": payment.received_on.isoformat(),
                "reason": reason.strip(),
            },
        )
    return reversal


# --- the daily close ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DaySummary:
    day: dt.date
    by_method: dict[str, int]
    by_clerk: dict[str, int]
    refunds_by_method: dict[str, int]
    payments_cents: int
    refunds_cents: int
    invoices_count: int
    invoiced_cents: int
    credit_notes_count: int
    credited_cents: int
    expected_cash_cents: int
    closed: DailyClose | None = None
    adjustments: list[Payment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_method": self.by_method,
            "by_clerk": self.by_clerk,
            "refunds_by_method": self.refunds_by_method,
            "payments_cents": self.payments_cents,
            "refunds_cents": self.refunds_cents,
            "invoices_count": self.invoices_count,
            "invoiced_cents": self.invoiced_cents,
            "credit_notes_count": self.credit_notes_count,
            "credited_cents": self.credited_cents,
            "expected_cash_cents": self.expected_cash_cents,
        }


def _sum_by(rows: Any, key: str) -> dict[str, int]:
    """``amount_cents`` summed per value of ``key``, in key order (one aggregate query)."""
    return {
        row[key]: int(row["total"] or 0)
        for row in rows.values(key).annotate(total=Sum("amount_cents")).order_by(key)
    }


def day_summary(day: dt.date) -> DaySummary:
    """Money in and out on a clinic day, by method and by clerk, against the day's invoices.

    A fixed number of aggregate queries whatever the day's size. Reversals count on the day
    they are entered (a closed day is never changed).
    """
    payments = Payment.objects.filter(received_on=day)
    by_method = _sum_by(payments, "method")
    by_clerk = _sum_by(payments, "received_by__username")
    refunds = _sum_by(Refund.objects.filter(refunded_on=day), "method")
    invoices = {
        row["kind"]: (int(row["n"]), int(row["total"] or 0))
        for row in Invoice.objects.filter(issued_on=day)
        .values("kind")
        .annotate(n=Count("pk"), total=Sum("total_cents"))
        .order_by("kind")
    }
    cash = by_method.get(PaymentMethod.CASH, 0) - refunds.get(PaymentMethod.CASH, 0)
    return DaySummary(
        day=day,
        by_method=by_method,
        by_clerk=by_clerk,
        refunds_by_method=refunds,
        payments_cents=sum(by_method.values()),
        refunds_cents=sum(refunds.values()),
        invoices_count=invoices.get(InvoiceKind.INVOICE, (0, 0))[0],
        invoiced_cents=invoices.get(InvoiceKind.INVOICE, (0, 0))[1],
        credit_notes_count=invoices.get(InvoiceKind.CREDIT_NOTE, (0, 0))[0],
        credited_cents=invoices.get(InvoiceKind.CREDIT_NOTE, (0, 0))[1],
        expected_cash_cents=cash,
        closed=DailyClose.objects.filter(day=day).first(),
        adjustments=list(
            Payment.objects.filter(received_on=day, kind=PaymentKind.REVERSAL).select_related(
                "reverses"
            )
        ),
    )


@service(ROLES.close_day, category=CATEGORY, action=Action.CREATE)
def do_close_day(actor: Actor, day: dt.date, counted_cash_cents: int, note: str = "") -> DailyClose:
    """Close a day: its totals are frozen and nothing more can be dated on it. A counted cash
    drawer that differs from the expected cash needs a note saying why."""
    counted = _amount(counted_cash_cents, "counted_cash_cents", allow_zero=True)
    today = clinic_today()
    if day > today:
        raise BillingError("A day can only be closed once it has begun.", "day")
    with transaction.atomic():
        InvoiceSequence.objects.get_or_create(name=SEQUENCE_NAME)
        # Serialise closes with the invoice issuing (same row) so no invoice slips in between.
        InvoiceSequence.objects.select_for_update().get(name=SEQUENCE_NAME)
        if DailyClose.objects.filter(day=day).exists():
            raise BillingError(f"{day:%Y-%m-%d} is already closed.", "day")
        summary = day_summary(day)
        difference = counted - summary.expected_cash_cents
        if difference and not note.strip():
            raise BillingError(
                f"The drawer is {dollars(difference)} against the expected "
                f"{dollars(summary.expected_cash_cents)}: say why in the note.",
                "note",
            )
        close = DailyClose.objects.create(
            day=day,
            expected_cash_cents=summary.expected_cash_cents,
            counted_cash_cents=counted,
            difference_cents=difference,
            totals=summary.to_dict(),
            note=note.strip(),
            closed_at=timezone.now(),
            closed_by=actor.user,
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            obj=close,
            detail={"day": day.isoformat(), **summary.to_dict(), "counted_cash_cents": counted},
        )
    return close


# --- reads with access checks -----------------------------------------------------------------


def get_invoice_for(actor: Actor, invoice_id: int) -> Invoice:
    return read_for(
        actor,
        # Not the plan: its dosing JSON is not billing's to read (the provider is copied).
        Invoice.objects.select_related("patient", "coverage__payer", "credits", "issued_by"),
        invoice_id,
        category=CATEGORY,
    )


# --- overdue reminders -------------------------------------------------------------------------
#
# The worker (``billing/tasks.py``) sends them as follow-up reminders go: one transaction claims
# a batch (a row per invoice and step, ``claimed``, or ``skipped`` with the reason), the e-mails
# go over one connection of the default mailer, one transaction records each outcome. The row
# per (invoice, step) is unique: a second tick, or a second worker, never sends a step twice. A
# claimed row whose outcome was never recorded (the worker stopped) is not sent again.

OVERDUE_BATCH = 200  # invoices one claim looks at (each step one transaction)


@dataclass(frozen=True)
class ClaimedOverdueReminder:
    """What the worker needs to e-mail one overdue reminder (no ORM object leaves)."""

    reminder_id: int
    to_address: str
    patient_name: str
    invoice_number: str
    issued_on: dt.date
    due_on: dt.date
    balance_cents: int
    sequence: int


@dataclass(frozen=True)
class OverdueClaim:
    claimed: list[ClaimedOverdueReminder]
    skipped: int


@dataclass(frozen=True)
class OverdueOutcome:
    """What became of one claimed reminder's e-mail: no error (sent) or the error."""

    reminder_id: int
    error: str = ""


def overdue_step(days_overdue: int, steps: Sequence[int]) -> int:
    """The policy step an invoice overdue by ``days_overdue`` days has reached (0: none yet)."""
    return sum(1 for days in steps if days_overdue >= days)


def _overdue_candidates(today: dt.date, steps: Sequence[int], limit: int) -> list[int]:
    """Invoices with a balance that reached a step they have no reminder for, oldest due first."""
    from painclinic.web.billing.models import OverdueReminder

    first_due = today - dt.timedelta(days=steps[0])
    last = OverdueReminder.objects.filter(invoice=OuterRef("pk")).order_by("-sequence")
    reached = Q()
    for number, days in enumerate(steps, start=1):
        reached |= Q(due_on__lte=today - dt.timedelta(days=days), last_step__lt=number)
    candidates = open_past_due(
        Invoice.objects.filter(kind=InvoiceKind.INVOICE, due_on__lte=first_due), first_due
    )
    return list(
        with_balance(candidates)
        .annotate(last_step=Coalesce(Subquery(last.values("sequence")[:1]), 0))
        .filter(reached, balance__gt=0)
        .order_by("due_on", "number")
        .values_list("pk", flat=True)[:limit]
    )


def _skip_reason(invoice: Invoice, consented: set[int]) -> str:
    if invoice.coverage is not None:
        return f"Billed to {invoice.coverage.payer.name}: follow up by phone or fax."
    if not invoice.patient.email:
        return "No e-mail address on file: call the patient."
    if invoice.patient_id not in consented:
        return "No consent to e-mail: call the patient."
    return ""


@service(ROLES.claim_overdue_reminders, category=CATEGORY, action=Action.CREATE)
def do_claim_overdue_reminders(actor: Actor, now: dt.datetime, batch: int) -> OverdueClaim:
    """Claim the next overdue reminders (up to ``batch`` invoices) in one transaction.

    An invoice with a positive balance overdue by at least a step's days
    (``settings.INVOICE_REMINDER_DAYS``; overdue by 0 days = its due date) gets one reminder
    for the highest step it reached and has none for (an invoice first seen at 40 days gets
    one, not three). Billed to the patient, with an e-mail address and e-mail consent: the
    reminder is ``claimed`` for the worker to send; otherwise ``skipped`` with the reason, so
    the billing home lists whom to call. One audit event per reminder (``audit_each``).
    """
    from painclinic.web.audit.services import audit_each
    from painclinic.web.billing.models import OverdueReminder, OverdueReminderStatus
    from painclinic.web.followup.services import _email_consented
    from painclinic.web.lib.clinictime import to_local

    if not settings.INVOICE_REMINDERS_ENABLED:
        return OverdueClaim([], 0)
    if not isinstance(batch, int) or not 1 <= batch <= OVERDUE_BATCH:
        raise BillingError(f"Claim 1 to {OVERDUE_BATCH} reminders at a time.", "batch")
    steps = tuple(settings.INVOICE_REMINDER_DAYS)
    if not steps:
        return OverdueClaim([], 0)
    today = to_local(now).date()
    with transaction.atomic():
        ids = _overdue_candidates(today, steps, batch)
        # Lock them, then read again under the lock: a second worker waits, then finds the step.
        locked = list(
            Invoice.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        invoices = list(
            Invoice.objects.filter(pk__in=locked)
            .select_related("patient", "coverage__payer")
            .order_by("due_on", "number")
        )
        done = dict(
            OverdueReminder.objects.filter(invoice_id__in=locked)
            .values("invoice_id")
            .annotate(last=Max("sequence"))
            .values_list("invoice_id", "last")
        )
        owed = balances(invoices)
        consented = _email_consented({invoice.patient_id for invoice in invoices})
        rows: list[OverdueReminder] = []
        for invoice in invoices:
            assert invoice.due_on is not None  # the candidates' query filters on it
            days_overdue = (today - invoice.due_on).days
            step = overdue_step(days_overdue, steps)
            balance = owed[invoice.pk].balance_cents
            if step <= done.get(invoice.pk, 0) or balance <= 0:
                continue
            reason = _skip_reason(invoice, consented)
            rows.append(
                OverdueReminder(
                    invoice=invoice,
                    patient_id=invoice.patient_id,
                    sequence=step,
                    days_overdue=days_overdue,
                    status=OverdueReminderStatus.SKIPPED
                    if reason
                    else OverdueReminderStatus.CLAIMED,
                    to_address="" if reason else invoice.patient.email,
                    balance_cents=balance,
                    claimed_at=now,
                    detail=reason,
                    created_by=actor.user,
                )
            )
        rows = OverdueReminder.objects.bulk_create(rows)
        audit_each(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            events=[
                (
                    row.invoice.patient,
                    row,
                    {
                        "event": "overdue reminder "
                        + ("skipped" if row.status == OverdueReminderStatus.SKIPPED else "claimed"),
                        "invoice": row.invoice.display_number,
                        "step": row.sequence,
                        "days_overdue": row.days_overdue,
                        "balance_cents": row.balance_cents,
                        **({"reason": row.detail} if row.detail else {}),
                    },
                )
                for row in rows
            ],
        )
    claimed = [
        ClaimedOverdueReminder(
            reminder_id=row.pk,
            to_address=row.to_address,
            patient_name=row.invoice.patient.preferred_name or row.invoice.patient.legal_given_name,
            invoice_number=row.invoice.display_number,
            issued_on=row.invoice.issued_on,
            due_on=row.invoice.due_on,
            balance_cents=row.balance_cents,
            sequence=row.sequence,
        )
        for row in rows
        if row.status == OverdueReminderStatus.CLAIMED and row.invoice.due_on is not None
    ]
    return OverdueClaim(claimed, len(rows) - len(claimed))


@service(ROLES.record_overdue_outcomes, category=CATEGORY, action=Action.UPDATE)
def do_record_overdue_outcomes(
    actor: Actor, outcomes: Sequence[OverdueOutcome], now: dt.datetime | None = None
) -> dict[int, str]:
    """Record what became of claimed reminders' e-mails in one transaction: ``sent``, or
    ``failed`` with the error (not tried again: the billing home lists it to call). One audit
    event per reminder; returns {reminder id: status}. A reminder no longer ``claimed`` keeps
    its status."""
    from painclinic.web.audit.services import audit_each
    from painclinic.web.billing.models import OverdueReminder, OverdueReminderStatus

    by_id = {outcome.reminder_id: outcome for outcome in outcomes}
    now = now or timezone.now()
    statuses: dict[int, str] = {}
    with transaction.atomic():
        reminders = list(
            OverdueReminder.objects.select_for_update()
            .filter(pk__in=list(by_id))
            .select_related("invoice")
            .order_by("pk")
        )
        changed = []
        for reminder in reminders:
            statuses[reminder.pk] = str(reminder.status)
            if reminder.status != OverdueReminderStatus.CLAIMED:
                continue
            error = by_id[reminder.pk].error
            if error:
                reminder.status = OverdueReminderStatus.FAILED
                reminder.detail = f"E-mail not sent ({error})"[:300]
            else:
                reminder.status = OverdueReminderStatus.SENT
                reminder.sent_at = now
            statuses[reminder.pk] = str(reminder.status)
            changed.append(reminder)
        OverdueReminder.objects.bulk_update(changed, ["status", "sent_at", "detail"])
        audit_each(
            actor,
            category=CATEGORY,
            action=Action.UPDATE,
            events=[
                (
                    Patient(pk=reminder.patient_id),
                    reminder,
                    {
                        "event": f"overdue reminder {reminder.status}",
                        "invoice": reminder.invoice.display_number,
                        "step": reminder.sequence,
                        **({"error": reminder.detail} if reminder.detail else {}),
                    },
                )
                for reminder in changed
            ],
        )
    return statuses
