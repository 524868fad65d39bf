"""Boundary of the treatments area: raw text in, domain values out, one message per bad field."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils import timezone

from painclinic.web.accounts.models import STAFF_ROLES, User
from painclinic.web.lib.bounds import OUT_OF_DATE, row_id_field, version_field
from painclinic.web.lib.widgets import IsoDateInput, IsoDateTimeInput
from painclinic.web.treatments.models import Drug, FeeBasis, SignatureMethod, TaxCategory
from painclinic.web.treatments.services import (
    FeeItemInput,
    TreatmentConsentInput,
    protocol_choices,
    protocol_library,
)

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,29}$")
MAX_FEE_CENTS = 10_000_000  # $100,000: anything above is a typing error
# The estimate a consent shows (a whole series of sessions): far above any real one.
MAX_ESTIMATE_CENTS = 1_000_000_000


class FeeItemForm(forms.Form):
    code = forms.CharField(max_length=30, help_text="Letters, digits and dashes, e.g. KET-SESSION")
    description = forms.CharField(max_length=200)
    amount = forms.CharField(
        max_length=12, label="Amount (CAD $)", help_text="Dollars and cents, e.g. 450.00"
    )
    basis = forms.ChoiceField(choices=FeeBasis.choices)
    drug = forms.ChoiceField(
        choices=[("", "Any drug"), *Drug.choices], required=False, label="Applies to drug"
    )
    protocol_id = forms.ChoiceField(required=False, label="Applies to protocol")
    tax_category = forms.ChoiceField(
        choices=[("", "Choose how HST applies"), *TaxCategory.choices],
        label="HST",
        help_text="Health services are exempt; forms and reports for insurers or lawyers are "
        "taxable; OHIP-insured services are never billed to the patient",
    )
    min_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=24 * 60,
        label="Shortest session (minutes)",
        help_text="Per-session prices that depend on the session's length; blank: any",
    )
    max_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=24 * 60,
        label="Longest session (minutes)",
        help_text="Blank: any length",
    )
    package_sessions = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        label="Sessions in the package",
        help_text="Series packages only",
    )
    effective_from = forms.DateField(label="In effect from", widget=IsoDateInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["protocol_id"].choices = [("", "Any protocol"), *protocol_choices()]  # type: ignore[attr-defined]
        if "effective_from" not in self.initial:
            self.initial["effective_from"] = timezone.localdate()

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip().upper()
        if not CODE_PATTERN.match(code):
            raise forms.ValidationError("Use 2-30 capital letters, digits and dashes.")
        return code

    def clean_description(self) -> str:
        text = self.cleaned_data["description"].strip()
        if not text:
            raise forms.ValidationError("Describe the service.")
        return text

    def clean_amount(self) -> int:
        """Dollars as typed ("450", "450.00", "$1,250.50") to integer cents, exactly."""
        raw = self.cleaned_data["amount"].strip().replace("$", "").replace(",", "")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise forms.ValidationError("Enter an amount in dollars, e.g. 450.00.") from None
        if not value.is_finite() or value < 0:
            raise forms.ValidationError("The amount cannot be negative.")
        if value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise forms.ValidationError("Use at most two decimals (cents).")
        if value > Decimal(MAX_FEE_CENTS) / 100:  # before any arithmetic: 1e999999 overflows
            raise forms.ValidationError("That is more than $100,000: check the amount.")
        cents = int(value * 100)
        if cents == 0:
            raise forms.ValidationError("A fee of $0 is not a fee; leave it out.")
        if cents > MAX_FEE_CENTS:
            raise forms.ValidationError("That is more than $100,000: check the amount.")
        return cents

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        protocol_id = cleaned.get("protocol_id")
        drug = cleaned.get("drug")
        if protocol_id:
            protocol_drug = protocol_library().get(protocol_id).drug
            if drug and drug != protocol_drug:
                self.add_error("drug", f"That protocol is a {protocol_drug} protocol.")
            cleaned["drug"] = protocol_drug
        basis = cleaned.get("basis")
        low, high = cleaned.get("min_minutes"), cleaned.get("max_minutes")
        if (low is not None or high is not None) and basis and basis != FeeBasis.PER_SESSION:
            self.add_error(
                "min_minutes" if low is not None else "max_minutes",
                "Only a per-session price depends on the session length.",
            )
        elif low is not None and high is not None and low > high:
            self.add_error("max_minutes", "The longest is shorter than the shortest.")
        package = cleaned.get("package_sessions")
        if basis == FeeBasis.PACKAGE and package is None and "package_sessions" not in self.errors:
            self.add_error("package_sessions", "Say how many sessions the package covers.")
        if basis and basis != FeeBasis.PACKAGE and package is not None:
            self.add_error("package_sessions", "Only a series package covers a number of sessions.")
        cleaned["amount_cents"] = cleaned.pop("amount", None)
        return cleaned

    def to_input(self) -> FeeItemInput:
        c = self.cleaned_data
        return FeeItemInput(
            code=c["code"],
            description=c["description"],
            amount_cents=c["amount_cents"],
            basis=c["basis"],
            effective_from=c["effective_from"],
            drug=c.get("drug") or "",
            protocol_id=c.get("protocol_id") or "",
            tax_category=c["tax_category"],
            min_minutes=c.get("min_minutes"),
            max_minutes=c.get("max_minutes"),
            package_sessions=c.get("package_sessions"),
        )


class WitnessChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name} ({obj.get_role_display()})"


class TreatmentConsentForm(forms.Form):
    protocol_id = forms.ChoiceField(label="Drug and protocol")
    sessions = forms.TypedChoiceField(coerce=int, label="Number of sessions")
    patient_signed_name = forms.CharField(
        max_length=200, label="Patient's name as signed", help_text="Type it as the patient signed"
    )
    signature_method = forms.ChoiceField(choices=SignatureMethod.choices, label="Signed")
    signature_confirmed = forms.BooleanField(
        label="I confirm the patient signed the consent form after the risks, the off-label "
        "use, the OHIP statement and the estimate were explained"
    )
    witness = WitnessChoiceField(
        queryset=User.objects.none(), label="Witness (another staff member)"
    )
    signed_at = forms.DateTimeField(
        label="Signed at (clinic time)",
        widget=IsoDateTimeInput(),
    )
    # The estimate total shown to the patient (the page renders it beside the estimate).
    shown_total_cents = forms.IntegerField(
        required=False,
        widget=forms.HiddenInput,
        min_value=0,
        max_value=MAX_ESTIMATE_CENTS,
        error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), OUT_OF_DATE),
    )

    def __init__(self, *args: Any, obtained_by: User, patient_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.obtained_by = obtained_by
        self.patient_name = patient_name
        self.fields["protocol_id"].choices = protocol_choices()  # type: ignore[attr-defined]
        sessions = sorted(
            {n for p in protocol_library().protocols.values() for n in p.allowed_sessions}
        )
        self.fields["sessions"].choices = [(n, str(n)) for n in sessions]  # type: ignore[attr-defined]
        self.fields["witness"].queryset = (  # type: ignore[attr-defined]
            User.objects.filter(role__in=STAFF_ROLES, is_active=True)
            .exclude(pk=obtained_by.pk)
            .order_by("last_name", "first_name")
        )
        if "signed_at" not in self.initial:
            self.initial["signed_at"] = timezone.localtime().replace(second=0, microsecond=0)

    def clean_patient_signed_name(self) -> str:
        name = " ".join(self.cleaned_data["patient_signed_name"].split())
        if len(name) < 2:
            raise forms.ValidationError("Type the patient's name as signed.")
        return name

    def clean_signed_at(self) -> dt.datetime:
        value: dt.datetime = self.cleaned_data["signed_at"]
        now = timezone.now()
        if value > now + dt.timedelta(minutes=5):
            raise forms.ValidationError("The signing time is in the future.")
        if value < now - dt.timedelta(days=30):
            raise forms.ValidationError(
                "The signing time is more than 30 days ago: record consent when it is signed."
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        protocol_id = cleaned.get("protocol_id")
        sessions = cleaned.get("sessions")
        if protocol_id and sessions:
            protocol = protocol_library().get(protocol_id)
            if sessions not in protocol.allowed_sessions:
                allowed = ", ".join(str(n) for n in protocol.allowed_sessions)
                self.add_error("sessions", f"{protocol.title} allows {allowed} session(s).")
        if cleaned.get("shown_total_cents") is None:
            # A hidden field: its error is shown for the whole form.
            self.errors.pop("shown_total_cents", None)
            self.add_error(None, "No estimate was shown: show the estimate before they sign.")
        return cleaned

    def to_input(self) -> TreatmentConsentInput:
        c = self.cleaned_data
        return TreatmentConsentInput(
            protocol_id=c["protocol_id"],
            sessions=c["sessions"],
            patient_signed_name=c["patient_signed_name"],
            signature_method=c["signature_method"],
            signature_confirmed=c["signature_confirmed"],
            witness=c["witness"],
            signed_at=c["signed_at"],
            shown_total_cents=c["shown_total_cents"],
        )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=1000, widget=forms.Textarea(attrs={"rows": 3}), label="Reason for withdrawal"
    )

    def clean_reason(self) -> str:
        text = self.cleaned_data["reason"].strip()
        if len(text) < 3:
            raise forms.ValidationError("Give the reason.")
        return text


class PlanChoiceForm(forms.Form):
    """Step 1: the protocol and the number of sessions (GET: calculate, nothing saved)."""

    protocol_id = forms.ChoiceField(label="Protocol")
    sessions = forms.TypedChoiceField(
        coerce=int, required=False, label="Sessions", empty_value=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["protocol_id"].choices = protocol_choices()  # type: ignore[attr-defined]
        sessions = sorted(
            {n for p in protocol_library().protocols.values() for n in p.allowed_sessions}
        )
        self.fields["sessions"].choices = [("", "protocol default")] + [  # type: ignore[attr-defined]
            (n, str(n)) for n in sessions
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        protocol_id = cleaned.get("protocol_id")
        if protocol_id:
            protocol = protocol_library().get(protocol_id)
            sessions = cleaned.get("sessions") or protocol.sessions
            if sessions not in protocol.allowed_sessions:
                allowed = ", ".join(str(n) for n in protocol.allowed_sessions)
                self.add_error("sessions", f"{protocol.title} allows {allowed} session(s).")
            cleaned["sessions"] = sessions
        return cleaned


class PlanSaveForm(PlanChoiceForm):
    """Step 2: save the calculated plan (a soft-limit plan needs the reason)."""

    expected_weight_id = row_id_field(widget=forms.HiddenInput)
    soft_limit_reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Clinical reason for exceeding the soft limit",
    )

    def clean_soft_limit_reason(self) -> str:
        return " ".join(self.cleaned_data.get("soft_limit_reason", "").split())


class CosignForm(forms.Form):
    expected_version = version_field()
    note = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Co-signature note (optional)",
    )
    confirm = forms.BooleanField(
        label="I have reviewed the doses, the limits crossed and the prescriber's reason"
    )


class CancelForm(forms.Form):
    expected_version = version_field()
    reason = forms.CharField(
        max_length=1000, widget=forms.Textarea(attrs={"rows": 3}), label="Reason for cancelling"
    )

    def clean_reason(self) -> str:
        text = self.cleaned_data["reason"].strip()
        if len(text) < 3:
            raise forms.ValidationError("Give the reason for cancelling.")
        return text
