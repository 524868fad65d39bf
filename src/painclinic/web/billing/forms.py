"""Boundary of the billing pages: text in, frozen service inputs out, one message per bad field.

Field names match the ``field`` a :class:`~painclinic.web.billing.services.BillingError` names
(``amount_cents``, ``method``, ``reason`` ...), so a refusal lands on the field it is about.
Money is typed in dollars ("450", "450.00", "$1,250.50") and cleaned to integer cents exactly.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils import timezone

from painclinic.web.billing.models import PayerKind, PaymentMethod
from painclinic.web.billing.services import (
    MAX_AMOUNT_CENTS,
    CoverageInput,
    CreditInput,
    ManualInvoiceInput,
    ManualLineInput,
    PayerInput,
    PaymentInput,
    RefundInput,
)
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.tax import tax_rules
from painclinic.web.lib.widgets import IsoDateInput


def clean_dollars(raw: str, *, allow_zero: bool = False, max_cents: int = MAX_AMOUNT_CENTS) -> int:
    """Dollars as typed ("450", "450.00", "$1,250.50") to integer cents, exactly (no floats)."""
    text = (raw or "").strip().replace("$", "").replace(",", "")
    if not text:
        raise forms.ValidationError("Enter an amount in dollars, e.g. 450.00.")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise forms.ValidationError("Enter an amount in dollars, e.g. 450.00.") from None
    if not value.is_finite():
        raise forms.ValidationError("Enter an amount in dollars, e.g. 450.00.")
    if value < 0:
        raise forms.ValidationError("The amount cannot be negative.")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise forms.ValidationError("Use at most two decimals (cents).")
    limit = f"${max_cents // 100:,}"
    if value > Decimal(max_cents) / 100:  # before any arithmetic: 1e999999 overflows
        raise forms.ValidationError(f"That is more than {limit}: check the amount.")
    cents = int(value * 100)
    if cents == 0 and not allow_zero:
        raise forms.ValidationError("The amount must be more than $0.00.")
    return cents


def cents_text(cents: int) -> str:
    """Integer cents as the text a money field shows: 45000 -> "450.00"."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


class DollarsField(forms.CharField):
    """A money input: dollars as text in, integer cents out."""

    def __init__(self, *, allow_zero: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 16)
        kwargs.setdefault("help_text", "Dollars and cents, e.g. 450.00")
        super().__init__(**kwargs)
        self.allow_zero = allow_zero
        self.widget.attrs.setdefault("inputmode", "decimal")

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if not text and not self.required:
            return None
        return clean_dollars(text, allow_zero=self.allow_zero)


# The earliest date a billing form takes: the first tax rate of the rules (HST, 2010-07-01);
# before it, a typing error with no tax rule to apply.
EARLIEST_DAY = min(rate.effective_from for rate in tax_rules().rates)
RECEIVE_METHODS = [(m.value, m.label) for m in PaymentMethod if m != PaymentMethod.INSURER]
REFUND_METHODS = RECEIVE_METHODS


# --- payers and coverage -----------------------------------------------------------------------


def plan_label(plan: Any) -> str:
    return (
        f"{plan.get_drug_display()} plan prescribed "
        f"{timezone.localtime(plan.prescribed_at):%Y-%m-%d} ({plan.get_status_display()})"
    )


class PayerForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=PayerKind.choices, label="Kind of payer")
    address = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    phone = forms.CharField(max_length=30, required=False)
    email = forms.EmailField(required=False)

    def to_input(self) -> PayerInput:
        c = self.cleaned_data
        return PayerInput(
            name=c["name"].strip(),
            kind=c["kind"],
            address=c.get("address") or "",
            phone=c.get("phone") or "",
            email=c.get("email") or "",
        )


class CoverageForm(forms.Form):
    payer_id = forms.TypedChoiceField(coerce=int, label="Payer")
    payer_share_basis_points = forms.CharField(
        max_length=6,
        label="Payer's share (%)",
        help_text="e.g. 80 or 62.5; the patient pays the rest",
    )
    claim_number = forms.CharField(max_length=40, required=False, help_text="WSIB, auto")
    policy_number = forms.CharField(max_length=40, required=False, help_text="Auto insurer")
    plan_name = forms.CharField(max_length=120, required=False, label="Plan")
    group_number = forms.CharField(max_length=40, required=False)
    member_id = forms.CharField(max_length=40, required=False, label="Member ID")

    def __init__(self, *args: Any, payers: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payer_id"].choices = [  # type: ignore[attr-defined]
            ("", "Choose a payer"),
            *[(p.pk, f"{p.name} ({p.get_kind_display()})") for p in payers],
        ]

    def clean_payer_share_basis_points(self) -> int:
        raw = self.cleaned_data["payer_share_basis_points"].strip().rstrip("%").strip()
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise forms.ValidationError("Enter a percentage, e.g. 80.") from None
        if not value.is_finite() or not 0 < value <= 100:
            raise forms.ValidationError("The payer's share is above 0 % and at most 100 %.")
        if value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise forms.ValidationError("Use at most two decimals.")
        return int(value * 100)

    def to_input(self) -> CoverageInput:
        c = self.cleaned_data
        return CoverageInput(
            payer_id=c["payer_id"],
            payer_share_basis_points=c["payer_share_basis_points"],
            claim_number=c.get("claim_number") or "",
            policy_number=c.get("policy_number") or "",
            plan_name=c.get("plan_name") or "",
            group_number=c.get("group_number") or "",
            member_id=c.get("member_id") or "",
        )


class EndCoverageForm(forms.Form):
    coverage_id = forms.TypedChoiceField(coerce=int, label="Coverage")
    reason = forms.CharField(max_length=500, label="Why it ends")

    def __init__(self, *args: Any, coverages: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["coverage_id"].choices = [  # type: ignore[attr-defined]
            (c.pk, f"{c.payer.name} ({c.share_percent_text})") for c in coverages
        ]


def bill_to_choices(patient_name: str, coverages: list[Any]) -> list[tuple[str, str]]:
    return [
        ("", f"The patient ({patient_name})"),
        *[
            (str(c.pk), f"{c.payer.name}: {c.share_percent_text}, the patient the rest")
            for c in coverages
        ],
    ]


class BillToMixin:
    fields: dict[str, Any]
    cleaned_data: dict[str, Any]

    def set_bill_to(self, patient_name: str, coverages: list[Any]) -> None:
        self.fields["coverage_id"].choices = bill_to_choices(patient_name, coverages)

    def chosen_coverage_id(self) -> int | None:
        value = self.cleaned_data.get("coverage_id")
        return int(value) if value else None


# --- invoices ----------------------------------------------------------------------------------


class SessionInvoiceForm(BillToMixin, forms.Form):
    session_ids = forms.TypedMultipleChoiceField(
        coerce=int, widget=forms.CheckboxSelectMultiple, label="Sessions to invoice"
    )
    coverage_id = forms.ChoiceField(required=False, label="Bill to")

    def __init__(
        self, *args: Any, billables: list[Any], patient_name: str, coverages: list[Any], **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.fields["session_ids"].choices = [  # type: ignore[attr-defined]
            (b.session.pk, f"{b.service_date:%Y-%m-%d} · {b.description}") for b in billables
        ]
        self.fields["session_ids"].error_messages["required"] = (
            "Choose at least one session to invoice."
        )
        self.set_bill_to(patient_name, coverages)


class PackageInvoiceForm(BillToMixin, forms.Form):
    plan_id = forms.TypedChoiceField(coerce=int, label="Treatment plan")
    fee_code = forms.ChoiceField(label="Series package")
    coverage_id = forms.ChoiceField(required=False, label="Bill to")

    def __init__(
        self,
        *args: Any,
        plans: list[Any],
        packages: list[Any],
        patient_name: str,
        coverages: list[Any],
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.fields["plan_id"].choices = [  # type: ignore[attr-defined]
            (p.pk, plan_label(p)) for p in plans
        ]
        self.fields["fee_code"].choices = [  # type: ignore[attr-defined]
            (f.code, f"{f.description} ({f.package_sessions} sessions)") for f in packages
        ]
        self.set_bill_to(patient_name, coverages)


class ManualInvoiceForm(BillToMixin, forms.Form):
    fee_code = forms.ChoiceField(label="Service")
    quantity = forms.IntegerField(min_value=1, max_value=100, initial=1)
    service_date = forms.DateField(
        required=False,
        label="Service date",
        help_text="Blank: today. A late cancellation takes the booking's date.",
        widget=IsoDateInput(),
    )
    booking_id = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="Cancelled booking",
        help_text="For a late-cancellation fee",
    )
    coverage_id = forms.ChoiceField(required=False, label="Bill to")
    note = forms.CharField(max_length=500, required=False, label="Note on the invoice")

    def __init__(
        self,
        *args: Any,
        fees: list[Any],
        cancelled: list[Any],
        patient_name: str,
        coverages: list[Any],
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.fields["fee_code"].choices = [  # type: ignore[attr-defined]
            ("", "Choose a service"),
            *[(f.code, f"{f.description} ({f.get_basis_display()})") for f in fees],
        ]
        self.fields["booking_id"].choices = [  # type: ignore[attr-defined]
            ("", "None"),
            *[(b.pk, f"{timezone.localtime(b.starts_at):%Y-%m-%d %H:%M}") for b in cancelled],
        ]
        self.set_bill_to(patient_name, coverages)

    def clean_service_date(self) -> dt.date | None:
        day = self.cleaned_data.get("service_date")
        if day is not None and day > clinic_today():
            raise forms.ValidationError("A service cannot be billed before it is given.")
        if day is not None and day < EARLIEST_DAY:
            raise forms.ValidationError(f"Enter a date from {EARLIEST_DAY:%Y-%m-%d} on.")
        return day

    def to_input(self) -> ManualInvoiceInput:
        c = self.cleaned_data
        return ManualInvoiceInput(
            lines=(
                ManualLineInput(
                    fee_code=c["fee_code"],
                    quantity=c["quantity"],
                    service_date=c.get("service_date"),
                    booking_id=c.get("booking_id"),
                ),
            ),
            note=c.get("note") or "",
            coverage_id=self.chosen_coverage_id(),
        )


class CreditNoteForm(forms.Form):
    full = forms.TypedChoiceField(
        choices=[("full", "The whole invoice"), ("amount", "An amount")],
        coerce=lambda v: v == "full",
        widget=forms.RadioSelect,
        initial="full",
        label="Credit",
    )
    amount_cents = DollarsField(
        required=False, label="Amount to credit (CAD $, tax included)", help_text="For an amount"
    )
    reason = forms.CharField(max_length=500, label="Reason")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("full") is False
            and cleaned.get("amount_cents") is None
            and "amount_cents" not in self.errors
        ):
            self.add_error("amount_cents", "Enter the amount to credit.")
        return cleaned

    def to_input(self) -> CreditInput:
        c = self.cleaned_data
        full = bool(c["full"])
        return CreditInput(
            reason=c["reason"], full=full, amount_cents=None if full else c["amount_cents"]
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, label="Reason")


# --- money in and out ----------------------------------------------------------------------------


class PaymentForm(forms.Form):
    amount_cents = DollarsField(label="Amount (CAD $)")
    method = forms.ChoiceField(label="Paid by")
    reference = forms.CharField(
        max_length=60, required=False, help_text="Cheque or transaction number"
    )

    def __init__(self, *args: Any, payer_invoice: bool = False, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["method"].choices = (  # type: ignore[attr-defined]
            PaymentMethod.choices if payer_invoice else RECEIVE_METHODS
        )
        if payer_invoice:
            self.fields["method"].initial = PaymentMethod.INSURER

    def to_input(self) -> PaymentInput:
        c = self.cleaned_data
        return PaymentInput(
            amount_cents=c["amount_cents"], method=c["method"], reference=c.get("reference") or ""
        )


class DepositForm(PaymentForm):
    plan_id = forms.TypedChoiceField(coerce=int, label="For the treatment plan")

    field_order = ["plan_id", "amount_cents", "method", "reference"]

    def __init__(self, *args: Any, plans: list[Any], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["plan_id"].choices = [  # type: ignore[attr-defined]
            (p.pk, plan_label(p)) for p in plans
        ]


def payment_label(payment: Any, unapplied: int) -> str:
    from painclinic.web.billing.services import dollars

    return (
        f"{payment.received_on:%Y-%m-%d} {payment.get_method_display()} "
        f"{dollars(payment.amount_cents)} ({dollars(unapplied)} unapplied)"
    )


class RefundForm(forms.Form):
    payment_id = forms.TypedChoiceField(coerce=int, label="From the payment")
    amount_cents = DollarsField(label="Amount to give back (CAD $)")
    method = forms.ChoiceField(choices=REFUND_METHODS, label="Given back by")
    reference = forms.CharField(max_length=60, required=False)
    reason = forms.CharField(max_length=500, label="Reason")

    def __init__(self, *args: Any, payments: list[tuple[Any, int]], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["payment_id"].choices = [  # type: ignore[attr-defined]
            (p.pk, payment_label(p, unapplied)) for p, unapplied in payments
        ]

    def to_input(self) -> RefundInput:
        c = self.cleaned_data
        return RefundInput(
            amount_cents=c["amount_cents"],
            method=c["method"],
            reason=c["reason"],
            reference=c.get("reference") or "",
        )


class ReverseForm(forms.Form):
    payment_id = forms.TypedChoiceField(coerce=int, label="Payment entered in error")
    reason = forms.CharField(max_length=500, label="What was wrong with the entry")

    def __init__(self, *args: Any, payments: list[tuple[Any, int]], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["payment_id"].choices = [  # type: ignore[attr-defined]
            (p.pk, payment_label(p, unapplied)) for p, unapplied in payments
        ]


class ApplyCreditForm(forms.Form):
    payment_id = forms.TypedChoiceField(coerce=int, label="Money on account")
    invoice_id = forms.TypedChoiceField(coerce=int, label="Apply to invoice")
    amount_cents = DollarsField(label="Amount (CAD $)")

    def __init__(
        self, *args: Any, payments: list[tuple[Any, int]], invoices: list[Any], **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.fields["payment_id"].choices = [  # type: ignore[attr-defined]
            (p.pk, payment_label(p, unapplied)) for p, unapplied in payments
        ]
        self.fields["invoice_id"].choices = [  # type: ignore[attr-defined]
            (i.pk, f"{i.display_number} ({i.bill_to_name})") for i in invoices
        ]


class CloseDayForm(forms.Form):
    counted_cash_cents = DollarsField(
        allow_zero=True, label="Cash counted in the drawer (CAD $)", help_text="e.g. 250.00"
    )
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when the count differs from the expected cash",
    )


class DateRangeForm(forms.Form):
    start = forms.DateField(label="From", widget=IsoDateInput())
    end = forms.DateField(label="To", widget=IsoDateInput())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        latest = clinic_today() + dt.timedelta(days=366)
        for name, value in (("start", start), ("end", end)):
            if value is not None and not EARLIEST_DAY <= value <= latest:
                self.add_error(
                    name, f"Enter a date from {EARLIEST_DAY:%Y-%m-%d} to {latest:%Y-%m-%d}."
                )
        if start and end and start > end:
            self.add_error("end", "The end is before the start.")
        if start and end and (end - start).days > 3660:
            self.add_error("start", "Choose at most ten years.")
        return cleaned
