"""The billing staff pages: thin views over ``billing.services``.

Each page reads through the access-checked, audited helpers (``get_patient_for``,
``get_invoice_for``); each action is a form whose frozen entry goes to one ``do_*`` service. A
:class:`BillingError` puts its message on the field it names and nothing is saved (the service
runs in one transaction); the form keeps what was typed. The billing role acts; the clinic
admin reads the same pages without their action forms.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max, Min, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.web.accounts.models import User
from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.billing.forms import (
    ApplyCreditForm,
    CloseDayForm,
    CoverageForm,
    CreditNoteForm,
    DateRangeForm,
    DepositForm,
    EndCoverageForm,
    ManualInvoiceForm,
    PackageInvoiceForm,
    PayerForm,
    PaymentForm,
    ReasonForm,
    RefundForm,
    ReverseForm,
    SessionInvoiceForm,
    cents_text,
)
from painclinic.web.billing.models import (
    Allocation,
    Charge,
    ChargeKind,
    Coverage,
    DailyClose,
    Invoice,
    InvoiceKind,
    Payer,
    Payment,
    PaymentKind,
    PaymentMethod,
    Refund,
)
from painclinic.web.billing.roles import ROLES
from painclinic.web.billing.services import (
    MANUAL_BASES,
    BillingError,
    IssueResult,
    balance_of,
    balances,
    billable_sessions,
    day_summary,
    do_add_coverage,
    do_add_payer,
    do_apply_credit,
    do_close_day,
    do_end_coverage,
    do_issue_credit_note,
    do_issue_manual_invoice,
    do_issue_package_invoice,
    do_issue_session_invoice,
    do_record_deposit,
    do_record_payment,
    do_refund,
    do_reverse_payment,
    do_transfer_to_patient,
    dollars,
    get_invoice_for,
    overdue_invoices,
    patient_credit_cents,
    patient_display_name,
    unapplied_many,
)
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.lib.service import Actor
from painclinic.web.lib.tax import tax_rules
from painclinic.web.patients.access import get_patient_for
from painclinic.web.patients.models import Patient
from painclinic.web.scheduling.models import Booking, BookingStatus
from painclinic.web.treatments.models import FeeBasis, PlanStatus, TreatmentPlan
from painclinic.web.treatments.services import fees_in_effect

CATEGORY = Category.BILLING
WORKLIST_LIMIT = 200  # sessions to invoice shown on the billing home
OVERDUE_LIMIT = 100
# A reminder claimed this long ago without an outcome was being sent when the worker stopped.
OVERDUE_SENDING_LEASE = dt.timedelta(minutes=10)
PATIENT_ROWS = 200  # invoices and payments on a patient's account


def _put_error(form: Any, error: BillingError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _can(request: HttpRequest, rule: frozenset[str]) -> bool:
    return acting_user(request).role in rule


def _require(request: HttpRequest, rule: frozenset[str]) -> None:
    if not _can(request, rule):
        raise PermissionDenied("this role cannot do that")


# --- the worklist ------------------------------------------------------------------------------


def _last_overdue_reminders(overdue: list[Invoice]) -> list[dict[str, Any]]:
    """The last overdue reminder of each listed overdue invoice (one query, bounded by the
    list), those staff must follow up by phone first."""
    from painclinic.web.billing.models import OverdueReminder, OverdueReminderStatus

    last: dict[int, OverdueReminder] = {}
    for one in OverdueReminder.objects.filter(
        invoice_id__in=[invoice.pk for invoice in overdue]
    ).order_by("invoice_id", "sequence"):
        last[one.invoice_id] = one
    stale = timezone.now() - OVERDUE_SENDING_LEASE
    rows = []
    for invoice in overdue:
        reminder = last.get(invoice.pk)
        status = reminder.get_status_display() if reminder else "None yet"
        if (
            reminder
            and reminder.status == OverdueReminderStatus.CLAIMED
            and reminder.claimed_at < stale
        ):
            status = "Not confirmed (the worker stopped while sending)"
        call = reminder is not None and reminder.status in (
            OverdueReminderStatus.SKIPPED,
            OverdueReminderStatus.FAILED,
        )
        rows.append(
            {
                "invoice": invoice,
                "reminder": reminder,
                "status": status,
                "on": (reminder.sent_at or reminder.claimed_at) if reminder else None,
                "call": call,
            }
        )
    return sorted(rows, key=lambda row: not row["call"])


@allow_roles(ROLES.view_billing)
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    today = clinic_today()
    billables = billable_sessions(limit=WORKLIST_LIMIT + 1)
    more_to_invoice = len(billables) > WORKLIST_LIMIT
    groups: OrderedDict[int, dict[str, Any]] = OrderedDict()
    for billable in billables[:WORKLIST_LIMIT]:
        patient = billable.session.patient
        group = groups.setdefault(
            patient.pk, {"patient": patient, "name": patient_display_name(patient), "rows": []}
        )
        group["rows"].append(billable)
    overdue_all = overdue_invoices(today)
    overdue = list(overdue_all[:OVERDUE_LIMIT])
    overdue_count = overdue_all.count() if len(overdue) == OVERDUE_LIMIT else len(overdue)
    paid_today = Payment.objects.filter(received_on=today).aggregate(total=Sum("amount_cents"))
    audit(
        actor_of(request),
        category=CATEGORY,
        action=Action.VIEW,
        detail={
            "page": "billing home",
            "patients_to_invoice": list(groups),
            "overdue_invoices": [invoice.display_number for invoice in overdue],
        },
    )
    context = {
        "groups": list(groups.values()),
        "more_to_invoice": more_to_invoice,
        "limit": WORKLIST_LIMIT,
        "overdue": [(invoice, (today - invoice.due_on).days) for invoice in overdue],
        "overdue_reminders": _last_overdue_reminders(overdue),
        "overdue_more": max(overdue_count - len(overdue), 0),
        "today": today,
        "paid_today_cents": int(paid_today["total"] or 0),
    }
    return render(request, "billing/home.html", context)


# --- a patient's account -----------------------------------------------------------------------


class PatientAccount:
    """What a patient's account page lists (bounded), read once per request."""

    def __init__(self, patient: Patient) -> None:
        self.patient = patient
        self.name = patient_display_name(patient)
        self.coverages = list(Coverage.objects.filter(patient=patient).select_related("payer"))
        self.active_coverages = [c for c in self.coverages if c.active]
        self.billables = billable_sessions(patient)
        self.plans = list(
            TreatmentPlan.objects.filter(patient=patient, status=PlanStatus.ACTIVE).order_by(
                "-prescribed_at"
            )
        )
        fees = fees_in_effect(clinic_today())
        self.packages = [f for f in fees if f.basis == FeeBasis.PACKAGE]
        self.manual_fees = [f for f in fees if f.basis in MANUAL_BASES]
        billed = Charge.objects.filter(
            kind=ChargeKind.LATE_CANCEL, credited_by__isnull=True, booking__isnull=False
        ).values("booking_id")
        self.cancelled = list(
            Booking.objects.filter(patient=patient, status=BookingStatus.CANCELLED)
            .exclude(pk__in=billed)
            .order_by("-starts_at")[:50]
        )
        self.invoices = list(
            Invoice.objects.filter(patient=patient).select_related("credits")[:PATIENT_ROWS]
        )
        self.balances = balances(self.invoices)
        self.payments = list(
            Payment.objects.filter(patient=patient).select_related(
                "payer", "plan", "received_by", "reverses"
            )[:PATIENT_ROWS]
        )
        self.unapplied = unapplied_many(self.payments)
        reversed_ids = {p.reverses_id for p in self.payments if p.reverses_id}
        refunded_ids = set(
            Refund.objects.filter(payment__in=self.payments).values_list("payment_id", flat=True)
        )
        live = [
            p for p in self.payments if p.kind != PaymentKind.REVERSAL and p.pk not in reversed_ids
        ]
        self.refundable = [(p, self.unapplied[p.pk]) for p in live]
        self.reversible = [(p, self.unapplied[p.pk]) for p in live if p.pk not in refunded_ids]
        self.on_account = [(p, u) for p, u in self.refundable if u > 0]
        self.open_invoices = [
            i
            for i in self.invoices
            if i.kind == InvoiceKind.INVOICE and self.balances[i.pk].balance_cents > 0
        ]
        self.credit_cents = patient_credit_cents(patient)
        years = {d.year for d in Invoice.objects.filter(patient=patient).dates("issued_on", "year")}
        years |= {
            d.year for d in Payment.objects.filter(patient=patient).dates("received_on", "year")
        }
        self.statement_years = sorted(years, reverse=True)

    def forms(self, bound: str | None, data: Any) -> dict[str, Any]:
        """Every action form of the page; only ``bound`` gets the posted ``data``."""

        def args(name: str) -> dict[str, Any]:
            return {"data": data if bound == name else None, "prefix": name}

        people: dict[str, Any] = {"patient_name": self.name, "coverages": self.active_coverages}
        return {
            "add_coverage": CoverageForm(
                **args("add_coverage"), payers=list(Payer.objects.filter(active=True)[:500])
            ),
            "end_coverage": EndCoverageForm(
                **args("end_coverage"), coverages=self.active_coverages
            ),
            "issue_sessions": SessionInvoiceForm(
                **args("issue_sessions"), billables=self.billables, **people
            ),
            "issue_package": PackageInvoiceForm(
                **args("issue_package"), plans=self.plans, packages=self.packages, **people
            ),
            "issue_manual": ManualInvoiceForm(
                **args("issue_manual"), fees=self.manual_fees, cancelled=self.cancelled, **people
            ),
            "deposit": DepositForm(**args("deposit"), plans=self.plans),
            "refund": RefundForm(**args("refund"), payments=self.refundable),
            "reverse": ReverseForm(**args("reverse"), payments=self.reversible),
            "apply_credit": ApplyCreditForm(
                **args("apply_credit"), payments=self.on_account, invoices=self.open_invoices
            ),
        }


def _issued_message(result: IssueResult) -> str:
    parts = [
        f"{invoice.display_number} to {invoice.bill_to_name}, {dollars(invoice.total_cents)}"
        for invoice in result.invoices
    ]
    text = "Issued " + "; ".join(parts) + "."
    if result.deposit_applied_cents:
        text += f" {dollars(result.deposit_applied_cents)} of the deposit applied."
    return text


def _patient_action(
    name: str, actor: Actor, patient: Patient, form: Any, request: HttpRequest
) -> HttpResponse:
    """Run the posted action's service; its success message and where to go next."""
    here = reverse("billing:patient", kwargs={"patient_id": patient.pk})
    data = form.cleaned_data
    if name == "add_coverage":
        coverage = do_add_coverage(actor, patient.pk, form.to_input())
        messages.success(request, f"Coverage with {coverage.payer.name} added.")
        return redirect(here)
    if name == "end_coverage":
        coverage = do_end_coverage(actor, data["coverage_id"], data["reason"])
        messages.success(request, f"Coverage with {coverage.payer.name} ended.")
        return redirect(here)
    if name in ("issue_sessions", "issue_package", "issue_manual"):
        if name == "issue_sessions":
            result = do_issue_session_invoice(
                actor, patient.pk, data["session_ids"], coverage_id=form.chosen_coverage_id()
            )
        elif name == "issue_package":
            result = do_issue_package_invoice(
                actor, data["plan_id"], data["fee_code"], coverage_id=form.chosen_coverage_id()
            )
        else:
            result = do_issue_manual_invoice(actor, patient.pk, form.to_input())
        messages.success(request, _issued_message(result))
        main = result.patient_invoice or result.payer_invoice
        assert main is not None
        return redirect("billing:invoice", invoice_id=main.pk)
    if name == "deposit":
        payment = do_record_deposit(actor, data["plan_id"], form.to_input())
        messages.success(request, f"Deposit of {dollars(payment.amount_cents)} recorded.")
        return redirect(here)
    if name == "refund":
        refund = do_refund(actor, data["payment_id"], form.to_input())
        messages.success(request, f"Refund of {dollars(refund.amount_cents)} recorded.")
        return redirect(here)
    if name == "reverse":
        reversal = do_reverse_payment(actor, data["payment_id"], data["reason"])
        messages.success(
            request, f"Payment of {dollars(-reversal.amount_cents)} reversed (kept in the history)."
        )
        return redirect(here)
    if name == "apply_credit":
        allocation = do_apply_credit(
            actor, data["payment_id"], data["invoice_id"], data["amount_cents"]
        )
        messages.success(
            request,
            f"{dollars(allocation.amount_cents)} applied to {allocation.invoice.display_number}.",
        )
        return redirect(here)
    raise Http404("No such action")


PATIENT_ACTIONS: dict[str, frozenset[str]] = {
    "add_coverage": ROLES.add_coverage,
    "end_coverage": ROLES.end_coverage,
    "issue_sessions": ROLES.issue_session_invoice,
    "issue_package": ROLES.issue_package_invoice,
    "issue_manual": ROLES.issue_manual_invoice,
    "deposit": ROLES.record_deposit,
    "refund": ROLES.refund,
    "reverse": ROLES.reverse_payment,
    "apply_credit": ROLES.apply_credit,
}


def _posted_action(request: HttpRequest, actions: dict[str, frozenset[str]]) -> str | None:
    if request.method != "POST":
        return None
    name = request.POST.get("action", "")
    if name not in actions:
        raise Http404("No such action")
    _require(request, actions[name])
    return name


@allow_roles(ROLES.view_billing)
@require_http_methods(["GET", "POST"])
def patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    actor = actor_of(request)
    action = _posted_action(request, PATIENT_ACTIONS)
    record = get_patient_for(
        actor, patient_id, category=CATEGORY, detail={"page": "billing account"}
    )
    account = PatientAccount(record)
    forms = account.forms(action, request.POST if action else None)
    if action is not None:
        form = forms[action]
        if form.is_valid():
            try:
                return _patient_action(action, actor, record, form, request)
            except BillingError as error:
                _put_error(form, error)
    context = {
        "patient": record,
        "account": account,
        "forms": forms,
        "posted": action,
        "can_manage": _can(request, ROLES.record_payment),
        "invoice_rows": [(i, account.balances[i.pk]) for i in account.invoices],
        "payment_rows": [(p, account.unapplied[p.pk]) for p in account.payments],
        "today": clinic_today(),
    }
    return render(request, "billing/patient.html", context)


# --- one invoice -------------------------------------------------------------------------------


def _line_rows(invoice: Invoice) -> list[dict[str, Any]]:
    rules = tax_rules()
    rows = []
    for line in invoice.lines.all():
        try:
            tax_label = rules.category(line.tax_category).label
        except ValueError:
            tax_label = ""
        rows.append({"line": line, "tax_label": tax_label})
    return rows


INVOICE_ACTIONS: dict[str, frozenset[str]] = {
    "pay": ROLES.record_payment,
    "credit": ROLES.issue_credit_note,
    "transfer": ROLES.transfer_to_patient,
}


@allow_roles(ROLES.view_billing)
@require_http_methods(["GET", "POST"])
def invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    actor = actor_of(request)
    action = _posted_action(request, INVOICE_ACTIONS)
    record = get_invoice_for(actor, invoice_id)
    state = balance_of(record)
    payer_invoice = record.coverage_id is not None
    is_invoice = record.kind == InvoiceKind.INVOICE
    data = request.POST if action else None

    def bound(name: str) -> Any:
        return data if action == name else None

    forms: dict[str, Any] = {
        "pay": PaymentForm(
            bound("pay"),
            prefix="pay",
            payer_invoice=payer_invoice,
            initial={"amount_cents": cents_text(max(state.balance_cents, 0))},
        ),
        "credit": CreditNoteForm(bound("credit"), prefix="credit"),
        "transfer": ReasonForm(bound("transfer"), prefix="transfer"),
    }
    can_manage = _can(request, ROLES.record_payment) and is_invoice
    offered = {
        "pay": can_manage and state.balance_cents > 0,
        "credit": can_manage and state.total_cents - state.credited_cents > 0,
        "transfer": can_manage and payer_invoice and state.balance_cents > 0,
    }
    if action is not None and not offered[action]:
        # Someone paid or credited it a moment ago (or the form was never offered).
        messages.error(
            request,
            f"{record.display_number} has changed: nothing was recorded. Its current state is "
            "shown below.",
        )
        return redirect("billing:invoice", invoice_id=record.pk)
    if action is not None and forms[action].is_valid():
        form = forms[action]
        try:
            if action == "pay":
                payment = do_record_payment(actor, record.pk, form.to_input())
                left = balance_of(record).balance_cents
                messages.success(
                    request,
                    f"Payment of {dollars(payment.amount_cents)} recorded; "
                    + (f"{dollars(left)} still owed." if left > 0 else "paid in full."),
                )
                return redirect("billing:invoice", invoice_id=record.pk)
            if action == "credit":
                credit = do_issue_credit_note(actor, record.pk, form.to_input())
                messages.success(
                    request,
                    f"Credit note {credit.display_number} issued for "
                    f"{dollars(credit.total_cents)}.",
                )
                return redirect("billing:invoice", invoice_id=record.pk)
            result = do_transfer_to_patient(actor, record.pk, form.cleaned_data["reason"])
            messages.success(request, _issued_message(result))
            assert result.patient_invoice is not None
            return redirect("billing:invoice", invoice_id=result.patient_invoice.pk)
        except BillingError as error:
            _put_error(form, error)
    credit_notes = list(record.credit_notes.all()) if is_invoice else []
    allocations = list(
        Allocation.objects.filter(invoice=record)
        .select_related("payment", "payment__received_by", "payment__payer")
        .order_by("created_at", "pk")
    )
    other_half = record.split_with or Invoice.objects.filter(split_with=record).first()
    context = {
        "invoice": record,
        "state": state,
        "lines": _line_rows(record),
        "credit_notes": credit_notes,
        "allocations": allocations,
        "other_half": other_half,
        "forms": forms,
        "posted": action,
        "can_pay": offered["pay"],
        "can_credit": offered["credit"],
        "can_transfer": offered["transfer"],
        "tax_rate": tax_rules().rate_on(record.issued_on).percent_text,
        "today": clinic_today(),
    }
    return render(request, "billing/invoice.html", context)


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@allow_roles(ROLES.view_billing)
@require_safe
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    from painclinic.web.billing import receipts

    record = get_invoice_for(actor_of(request), invoice_id)
    namer: Callable[[Invoice], str] | None = getattr(receipts, "receipt_filename", None)
    filename = namer(record) if namer else f"{record.display_number}.pdf"
    return _pdf_response(receipts.invoice_pdf(record), filename)


@allow_roles(ROLES.view_billing)
@require_safe
def statement_pdf(request: HttpRequest, patient_id: int, year: int) -> HttpResponse:
    from painclinic.web.billing import receipts

    if not 2000 <= year <= clinic_today().year:
        raise Http404("No statement for that year")
    record = get_patient_for(
        actor_of(request),
        patient_id,
        category=CATEGORY,
        detail={"page": "yearly statement", "year": year},
    )
    namer: Callable[[Patient, int], str] | None = getattr(receipts, "statement_filename", None)
    filename = namer(record, year) if namer else f"statement-{year}-{record.pk}.pdf"
    return _pdf_response(receipts.statement_pdf(record, year), filename)


# --- the day -----------------------------------------------------------------------------------


def _active_day(*, before: dt.date | None = None, after: dt.date | None = None) -> dt.date | None:
    """The nearest day before (or after) with money entered, an invoice issued or a close."""
    sources = (
        (Payment.objects, "received_on"),
        (Invoice.objects, "issued_on"),
        (DailyClose.objects, "day"),
    )
    found: list[dt.date] = []
    for manager, column in sources:
        if before is not None:
            value = manager.filter(**{f"{column}__lt": before}).aggregate(d=Max(column))["d"]
        else:
            value = manager.filter(**{f"{column}__gt": after}).aggregate(d=Min(column))["d"]
        if value is not None:
            found.append(value)
    if not found:
        return None
    return max(found) if before is not None else min(found)


def _method_label(method: str) -> str:
    return PaymentMethod(method).label if method in PaymentMethod.values else method


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@allow_roles(ROLES.view_billing)
@require_http_methods(["GET", "POST"])
def day(request: HttpRequest, day: dt.date) -> HttpResponse:
    actor = actor_of(request)
    today = clinic_today()
    if request.method == "POST":
        _require(request, ROLES.close_day)
    if request.method == "GET" and request.GET.get("download") == "csv":
        _require(request, ROLES.export_reports)
        try:
            from painclinic.web.billing.reports import day_csv
        except ImportError:
            raise Http404("The day's CSV is not available yet") from None
        audit(
            actor,
            category=CATEGORY,
            action=Action.EXPORT,
            detail={"page": "day", "day": day.isoformat(), "format": "csv"},
        )
        return _csv_response(day_csv(day_summary(day)), f"day-{day:%Y-%m-%d}.csv")
    form = CloseDayForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            close = do_close_day(
                actor, day, form.cleaned_data["counted_cash_cents"], form.cleaned_data["note"]
            )
        except BillingError as error:
            _put_error(form, error)
        else:
            messages.success(
                request,
                f"{day:%Y-%m-%d} closed; the drawer is {dollars(close.difference_cents)} "
                "against the expected cash.",
            )
            return redirect("billing:day", day=day)
    summary = day_summary(day)
    if request.method == "GET":
        audit(
            actor,
            category=CATEGORY,
            action=Action.VIEW,
            detail={"page": "day", "day": day.isoformat()},
        )
    names = {
        u.username: u.display_name for u in User.objects.filter(username__in=list(summary.by_clerk))
    }
    context = {
        "summary": summary,
        "day": day,
        "previous": _active_day(before=day),
        "next": _active_day(after=day) or (today if day < today else None),
        "by_method": [(_method_label(m), c) for m, c in summary.by_method.items()],
        "refunds": [(_method_label(m), c) for m, c in summary.refunds_by_method.items()],
        "by_clerk": [(names.get(u, u), c) for u, c in summary.by_clerk.items()],
        "form": form,
        "can_close": _can(request, ROLES.close_day) and summary.closed is None and day <= today,
        "future": day > today,
        "today": today,
    }
    return render(request, "billing/day.html", context)


# --- reports -----------------------------------------------------------------------------------


@allow_roles(ROLES.view_reports)
@require_safe
def reports(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    today = clinic_today()
    try:
        from painclinic.web.billing import reports as billing_reports
    except ImportError:
        billing_reports = None  # type: ignore[assignment]
    query = {"start": today.replace(day=1).isoformat(), "end": today.isoformat()}
    for key in ("start", "end"):
        if request.GET.get(key):
            query[key] = str(request.GET.get(key))
    form = DateRangeForm(query)
    start = end = None
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    download = request.GET.get("download", "")
    if billing_reports is not None and download in ("aged", "revenue"):
        _require(request, ROLES.export_reports)
        if download == "aged":
            text = billing_reports.aged_csv(billing_reports.aged_receivables(today))
            name = f"aged-receivables-{today:%Y-%m-%d}.csv"
        else:
            if start is None or end is None:
                raise Http404("Choose the dates first")
            text = billing_reports.revenue_csv(billing_reports.revenue(start, end))
            name = f"revenue-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.csv"
        audit(
            actor,
            category=CATEGORY,
            action=Action.EXPORT,
            detail={"page": "reports", "report": download, "format": "csv"},
        )
        return _csv_response(text, name)
    aged = revenue = None
    if billing_reports is not None:
        aged = billing_reports.aged_receivables(today)
        if start is not None and end is not None:
            revenue = billing_reports.revenue(start, end)
    audit(
        actor,
        category=CATEGORY,
        action=Action.VIEW,
        detail={"page": "reports", "start": str(start or ""), "end": str(end or "")},
    )
    context = {
        "available": billing_reports is not None,
        "form": form,
        "aged": aged,
        "revenue": revenue,
        "today": today,
        "range_query": f"start={start.isoformat()}&end={end.isoformat()}" if start and end else "",
    }
    return render(request, "billing/reports.html", context)


# --- payers ------------------------------------------------------------------------------------


@allow_roles(ROLES.view_billing)
@require_http_methods(["GET", "POST"])
def payers(request: HttpRequest) -> HttpResponse:
    can_add = _can(request, ROLES.add_payer)
    if request.method == "POST":
        _require(request, ROLES.add_payer)
    form = PayerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            payer = do_add_payer(actor_of(request), form.to_input())
        except BillingError as error:
            _put_error(form, error)
        else:
            messages.success(request, f"{payer.name} added.")
            return redirect("billing:payers")
    rows = list(Payer.objects.all()[:500])
    counts: dict[int, int] = defaultdict(int)
    for payer_id in Coverage.objects.filter(active=True, payer__in=rows).values_list(
        "payer_id", flat=True
    ):
        counts[payer_id] += 1
    context = {
        "payers": [(p, counts[p.pk]) for p in rows],
        "form": form,
        "can_add": can_add,
        "today": clinic_today(),
    }
    return render(request, "billing/payers.html", context)


# --- a patient's statement of account ----------------------------------------------------------

STATEMENT_ROWS = 100


@allow_roles(ROLES.view_billing)
@require_safe
def statement(request: HttpRequest, patient_id: int) -> HttpResponse:
    """What the patient owes and has paid, as of today: the page a clerk reads to a patient on
    the phone and prints for them (read only; the yearly PDF is for the tax return)."""
    actor = actor_of(request)
    record = get_patient_for(
        actor, patient_id, category=CATEGORY, detail={"page": "billing statement"}
    )
    today = clinic_today()
    invoices = list(
        Invoice.objects.filter(patient=record)
        .select_related("credits")
        .order_by("-number")[:STATEMENT_ROWS]
    )
    states = balances(invoices)
    payments = list(
        Payment.objects.filter(patient=record)
        .select_related("payer")
        .order_by("-received_at", "-id")[:STATEMENT_ROWS]
    )
    unapplied = unapplied_many(payments)
    open_rows = []
    patient_owes = payer_owes = 0
    for invoice in invoices:
        state = states[invoice.pk]
        if invoice.is_credit_note or state.balance_cents <= 0:
            continue
        overdue_days = (today - invoice.due_on).days if invoice.due_on else 0
        open_rows.append((invoice, state, max(overdue_days, 0)))
        if invoice.coverage_id:
            payer_owes += state.balance_cents
        else:
            patient_owes += state.balance_cents
    on_account = sum(
        max(unapplied[p.pk], 0)
        for p in payments
        if p.payer_id is None and p.kind != PaymentKind.REVERSAL
    )
    context = {
        "patient": record,
        "name": patient_display_name(record),
        "today": today,
        "open_rows": open_rows,
        "patient_owes": patient_owes,
        "payer_owes": payer_owes,
        "on_account": on_account,
        "invoice_rows": [(i, states[i.pk]) for i in invoices],
        "payment_rows": [(p, unapplied[p.pk]) for p in payments],
        "more": len(invoices) == STATEMENT_ROWS or len(payments) == STATEMENT_ROWS,
    }
    return render(request, "billing/statement.html", context)
