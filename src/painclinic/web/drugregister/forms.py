"""Register forms: concentrations only from the drug library, amounts in mg, one message a field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms

from painclinic.web.drugregister.models import EntryKind
from painclinic.web.drugregister.services import CountInput, ReceiptInput, concentration_choices
from painclinic.web.lib.bounds import bounded_decimal
from painclinic.web.lib.clinictime import local_today
from painclinic.web.lib.widgets import IsoDateInput

# More than any safe holds of one drug (a hundred 10 mL vials at 100 mg/mL).
MAX_AMOUNT_MG = Decimal("100000")


def _concentration_field(required: bool = True) -> forms.TypedChoiceField:
    choices = concentration_choices()
    if not required:
        choices = [("", "Any"), *choices]
    return forms.TypedChoiceField(
        choices=choices,
        coerce=Decimal,
        empty_value=None,
        required=required,
        label="Vial concentration",
        help_text="Read it off the vial label: the vials differ tenfold.",
    )


class ReceiptForm(forms.Form):
    concentration_mg_per_ml = _concentration_field()
    vial_volume_ml = forms.DecimalField(
        label="Volume per vial (mL)",
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0.1"),
        max_value=Decimal("100"),
    )
    vial_count = forms.IntegerField(label="Number of vials", min_value=1, max_value=1000)
    lot = forms.CharField(max_length=40, label="Lot number")
    expiry_date = forms.DateField(label="Expiry date", widget=IsoDateInput())
    supplier = forms.CharField(max_length=120)
    reference = forms.CharField(max_length=80, label="Invoice or order number")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["concentration_mg_per_ml"] = _concentration_field()

    def clean_lot(self) -> str:
        return self.cleaned_data["lot"].strip().upper()

    def clean_expiry_date(self) -> dt.date:
        value: dt.date = self.cleaned_data["expiry_date"]
        if value < local_today():
            raise forms.ValidationError("This lot has already expired; do not stock it.")
        return value

    def to_input(self) -> ReceiptInput:
        data = self.cleaned_data
        return ReceiptInput(
            concentration_mg_per_ml=data["concentration_mg_per_ml"],
            vial_volume_ml=data["vial_volume_ml"],
            vial_count=data["vial_count"],
            lot=data["lot"],
            expiry_date=data["expiry_date"],
            supplier=data["supplier"],
            reference=data["reference"],
        )


class CountForm(forms.Form):
    concentration_mg_per_ml = _concentration_field()
    full_vials = forms.IntegerField(label="Unopened vials", min_value=0, max_value=10000)
    vial_volume_ml = forms.DecimalField(
        label="Volume per vial (mL)",
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0.1"),
        max_value=Decimal("100"),
    )
    open_vial_ml = forms.DecimalField(
        label="Left in an opened vial (mL)",
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
        initial=Decimal("0"),
    )
    notes = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["concentration_mg_per_ml"] = _concentration_field()

    def clean_open_vial_ml(self) -> Decimal:
        value = self.cleaned_data.get("open_vial_ml")
        return value if value is not None else Decimal("0")

    def to_input(self) -> CountInput:
        data = self.cleaned_data
        return CountInput(
            concentration_mg_per_ml=data["concentration_mg_per_ml"],
            full_vials=data["full_vials"],
            vial_volume_ml=data["vial_volume_ml"],
            open_vial_ml=data["open_vial_ml"],
            notes=data.get("notes") or "",
        )


class ResolveForm(forms.Form):
    explanation = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What happened",
        help_text="Goes into the register and adjusts the balance to the count.",
    )

    def clean_explanation(self) -> str:
        value = self.cleaned_data["explanation"].strip()
        if len(value) < 10:
            raise forms.ValidationError("Explain what happened (at least a sentence).")
        return value


class EntryFilterForm(forms.Form):
    date_from = forms.DateField(required=False, label="From", widget=IsoDateInput())
    date_to = forms.DateField(required=False, label="To", widget=IsoDateInput())
    lot = forms.CharField(required=False, max_length=40)
    concentration = _concentration_field(required=False)
    kind = forms.ChoiceField(choices=[("", "Any"), *EntryKind.choices], required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["concentration"] = _concentration_field(required=False)

    def _reasonable(self, name: str) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get(name)
        if value is not None and not dt.date(2000, 1, 1) <= value <= dt.date(2200, 1, 1):
            raise forms.ValidationError("Give a date between 2000 and 2200.")
        return value

    def clean_date_from(self) -> dt.date | None:
        return self._reasonable("date_from")

    def clean_date_to(self) -> dt.date | None:
        return self._reasonable("date_to")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


class WitnessChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name} ({obj.get_role_display()})"


def _witness_field(exclude_user_id: int | None) -> forms.ModelChoiceField:
    from painclinic.web.accounts.models import CLINICAL_ROLES, User

    queryset = User.objects.filter(role__in=CLINICAL_ROLES, is_active=True).order_by(
        "last_name", "first_name"
    )
    if exclude_user_id is not None:
        queryset = queryset.exclude(pk=exclude_user_id)
    return WitnessChoiceField(queryset=queryset, label="Witness (nurse or physician)")


class WitnessedFormMixin(forms.Form):
    def __init__(self, *args: Any, user_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["witness"] = _witness_field(user_id)
        self.fields["witness_password"] = forms.CharField(
            label="Witness's own password",
            widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
            help_text="The witness types it themselves: it is their signature.",
            strip=False,
        )


class WasteForm(WitnessedFormMixin):
    concentration_mg_per_ml = _concentration_field()
    amount_mg = bounded_decimal(
        "Amount wasted (mg)",
        what="The amount wasted",
        low=Decimal("0.01"),
        high=MAX_AMOUNT_MG,
        unit="mg",
        max_digits=10,
        decimal_places=2,
    )
    reason = forms.CharField(max_length=300, label="Reason")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["concentration_mg_per_ml"] = _concentration_field()
        self.order_fields(
            ["concentration_mg_per_ml", "amount_mg", "reason", "witness", "witness_password"]
        )


class DestructionForm(WitnessedFormMixin):
    concentration_mg_per_ml = _concentration_field()
    lot = forms.CharField(max_length=40, label="Lot number")
    amount_mg = bounded_decimal(
        "Amount destroyed (mg)",
        what="The amount destroyed",
        low=Decimal("0.01"),
        high=MAX_AMOUNT_MG,
        unit="mg",
        max_digits=10,
        decimal_places=2,
    )
    reason = forms.CharField(max_length=300, label="Reason (expired, vial broken...)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["concentration_mg_per_ml"] = _concentration_field()
        self.order_fields(
            ["concentration_mg_per_ml", "lot", "amount_mg", "reason", "witness", "witness_password"]
        )

    def clean_lot(self) -> str:
        return self.cleaned_data["lot"].strip().upper()
