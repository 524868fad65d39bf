"""Boundary of the registry: raw text in, domain values out, one message per bad field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms

from painclinic.web.lib.bounds import version_field
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.widgets import IsoDateInput
from painclinic.web.patients.healthcard import (
    health_number_problem,
    normalise_health_number,
    version_code_problem,
)
from painclinic.web.patients.models import (
    ConsentDecision,
    ConsentKind,
    ExternalPhysician,
    Patient,
    WeightMeasurement,
)

MAX_AGE_YEARS = 120
WEIGHT_MIN_KG = Decimal("20")
WEIGHT_MAX_KG = Decimal("300")
KG_PER_LB = Decimal("0.45359237")

DEMOGRAPHIC_FIELDS = [
    "legal_given_name",
    "legal_family_name",
    "preferred_name",
    "date_of_birth",
    "sex_at_birth",
    "gender",
    "health_card_number",
    "health_card_version",
    "phone",
    "email",
    "address_line",
    "city",
    "province",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "emergency_contact_phone",
    "referring_physician",
    "family_physician",
]


def validate_date_of_birth(value: dt.date) -> dt.date:
    today = clinic_today()
    if value > today:
        raise forms.ValidationError("The date of birth is in the future.")
    try:
        oldest = today.replace(year=today.year - MAX_AGE_YEARS)
    except ValueError:  # 29 February
        oldest = today.replace(year=today.year - MAX_AGE_YEARS, day=28)
    if value < oldest:
        raise forms.ValidationError(f"The date of birth is more than {MAX_AGE_YEARS} years ago.")
    return value


def weight_plausibility_problem(
    weight_kg: Decimal, last_weight_kg: Decimal | None, change_percent: int
) -> str | None:
    """Why a weight needs explicit confirmation (a jump typical of pounds typed as kg), or None."""
    if last_weight_kg is None or last_weight_kg <= 0:
        return None
    change = abs(weight_kg - last_weight_kg) / last_weight_kg * 100
    if change <= change_percent:
        return None
    as_kg_if_pounds = (weight_kg * KG_PER_LB).quantize(Decimal("0.1"))
    return (
        f"{weight_kg} kg differs by {change:.0f}% from the last recorded weight "
        f"({last_weight_kg} kg). If it was entered in pounds, {weight_kg} lb is "
        f"{as_kg_if_pounds} kg. Re-weigh the patient, or tick the confirmation box if it is right."
    )


class PatientForm(forms.ModelForm):
    confirm_possible_duplicate = forms.BooleanField(
        required=False,
        label="I have checked: this is a different person with the same name and date of birth",
    )
    expected_version = version_field(required=False)
    # Wider than the stored 10 digits: people type the groups with spaces or dashes.
    health_card_number = forms.CharField(
        max_length=14, required=False, label="Ontario health card number"
    )

    class Meta:
        model = Patient
        fields = DEMOGRAPHIC_FIELDS
        widgets = {
            "date_of_birth": IsoDateInput(),
        }
        labels = {
            "health_card_number": "Ontario health card number",
            "health_card_version": "Version code",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        physicians = ExternalPhysician.objects.order_by("name")
        self.fields["referring_physician"].queryset = physicians  # type: ignore[attr-defined]
        self.fields["family_physician"].queryset = physicians  # type: ignore[attr-defined]
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version

    def clean_legal_given_name(self) -> str:
        return self.cleaned_data["legal_given_name"].strip()

    def clean_legal_family_name(self) -> str:
        return self.cleaned_data["legal_family_name"].strip()

    def clean_date_of_birth(self) -> dt.date:
        return validate_date_of_birth(self.cleaned_data["date_of_birth"])

    def clean_health_card_number(self) -> str:
        number = normalise_health_number(self.cleaned_data.get("health_card_number", ""))
        if not number:
            return ""
        problem = health_number_problem(number)
        if problem:
            raise forms.ValidationError(problem)
        duplicates = Patient.objects.filter(health_card_number=number)
        if self.instance.pk:
            duplicates = duplicates.exclude(pk=self.instance.pk)
        existing = duplicates.first()
        if existing is not None:
            raise forms.ValidationError(
                f"This health card number is already registered to patient #{existing.pk}. "
                "Open that record instead of registering the patient again."
            )
        return number

    def clean_health_card_version(self) -> str:
        code = self.cleaned_data.get("health_card_version", "").strip().upper()
        problem = version_code_problem(code)
        if problem:
            raise forms.ValidationError(problem)
        return code

    def clean_postal_code(self) -> str:
        code = self.cleaned_data.get("postal_code", "").replace(" ", "").upper()
        if code and (len(code) != 6 or not code[::2].isalpha() or not code[1::2].isdigit()):
            raise forms.ValidationError("A Canadian postal code looks like A1A 1A1.")
        return f"{code[:3]} {code[3:]}" if code else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        given = cleaned.get("legal_given_name")
        family = cleaned.get("legal_family_name")
        dob = cleaned.get("date_of_birth")
        if given and family and dob and not cleaned.get("confirm_possible_duplicate"):
            same = Patient.objects.filter(
                legal_given_name__iexact=given, legal_family_name__iexact=family, date_of_birth=dob
            )
            if self.instance.pk:
                same = same.exclude(pk=self.instance.pk)
            if same.exists():
                self.add_error(
                    "confirm_possible_duplicate",
                    "A patient with this name and date of birth is already registered. "
                    "Search for them first; tick this box only if this is a different person.",
                )
        return cleaned

    def to_demographics(self) -> Any:
        """The typed demographics for the registry services (empty text stays "")."""
        from painclinic.web.patients.services import Demographics

        data = self.cleaned_data
        values: dict[str, Any] = {
            name: "" if data.get(name) is None and _is_text(name) else data.get(name)
            for name in DEMOGRAPHIC_FIELDS
        }
        return Demographics(**values)


def _is_text(name: str) -> bool:
    return not Patient._meta.get_field(name).null


class RegistrationForm(PatientForm):
    """Registration also takes the first weight and height (optional at the front desk)."""

    weight_kg = forms.DecimalField(
        label="Weight (kg)",
        required=False,
        max_digits=5,
        decimal_places=1,
        min_value=WEIGHT_MIN_KG,
        max_value=WEIGHT_MAX_KG,
    )
    height_cm = forms.DecimalField(
        label="Height (cm)",
        required=False,
        max_digits=4,
        decimal_places=1,
        min_value=Decimal("50"),
        max_value=Decimal("250"),
    )
    measured_on = forms.DateField(label="Weighed on", required=False, widget=IsoDateInput())

    def clean_measured_on(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("measured_on")
        if value and value > clinic_today():
            raise forms.ValidationError("The measurement date is in the future.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("weight_kg") is not None and not cleaned.get("measured_on"):
            cleaned["measured_on"] = clinic_today()
        if cleaned.get("height_cm") is not None and cleaned.get("weight_kg") is None:
            self.add_error("weight_kg", "Record the weight together with the height.")
        return cleaned

    def to_first_weight(self) -> Any:
        """The first weight, if one was entered (registration needs none)."""
        from painclinic.web.patients.services import WeightEntry

        data = self.cleaned_data
        if data.get("weight_kg") is None:
            return None
        return WeightEntry(
            weight_kg=data["weight_kg"],
            measured_on=data["measured_on"],
            height_cm=data.get("height_cm"),
        )


class WeightForm(forms.Form):
    weight_kg = forms.DecimalField(
        label="Weight (kg)",
        max_digits=5,
        decimal_places=1,
        min_value=WEIGHT_MIN_KG,
        max_value=WEIGHT_MAX_KG,
        error_messages={
            "min_value": "Weight must be between 20 and 300 kg (kilograms only).",
            "max_value": "Weight must be between 20 and 300 kg (kilograms only).",
        },
    )
    height_cm = forms.DecimalField(
        label="Height (cm)",
        required=False,
        max_digits=4,
        decimal_places=1,
        min_value=Decimal("50"),
        max_value=Decimal("250"),
    )
    measured_on = forms.DateField(label="Weighed on", widget=IsoDateInput())
    confirm_weight_change = forms.BooleanField(
        required=False, label="I re-weighed the patient: this change is real"
    )

    def __init__(self, *args: Any, last_weight: WeightMeasurement | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.last_weight = last_weight
        if "measured_on" not in self.initial:
            self.initial["measured_on"] = clinic_today()

    def clean_measured_on(self) -> dt.date:
        value: dt.date = self.cleaned_data["measured_on"]
        if value > clinic_today():
            raise forms.ValidationError("The measurement date is in the future.")
        return value

    def to_entry(self) -> Any:
        """The typed entry for ``do_record_weight`` (the service checks plausibility)."""
        from painclinic.web.patients.services import WeightEntry

        data = self.cleaned_data
        return WeightEntry(
            weight_kg=data["weight_kg"],
            measured_on=data["measured_on"],
            height_cm=data.get("height_cm"),
            confirmed_large_change=bool(data.get("confirm_weight_change")),
        )


class WeightCorrectionForm(WeightForm):
    correction_reason = forms.CharField(
        max_length=300, label="Why the original is wrong", widget=forms.TextInput()
    )


class ConsentForm(forms.Form):
    kind = forms.ChoiceField(choices=ConsentKind.choices)
    decision = forms.ChoiceField(choices=ConsentDecision.choices)
    decided_on = forms.DateField(widget=IsoDateInput())
    document_version = forms.CharField(max_length=40, label="Consent form version")
    witness_name = forms.CharField(max_length=200, required=False)
    notes = forms.CharField(max_length=500, required=False)

    def clean_decided_on(self) -> dt.date:
        value: dt.date = self.cleaned_data["decided_on"]
        if value > clinic_today():
            raise forms.ValidationError("The consent date is in the future.")
        return value

    def to_entry(self) -> Any:
        """The typed entry for ``do_record_consent`` (which requires a treatment witness)."""
        from painclinic.web.patients.services import ConsentEntry

        data = self.cleaned_data
        return ConsentEntry(
            kind=data["kind"],
            decision=data["decision"],
            decided_on=data["decided_on"],
            document_version=data["document_version"],
            witness_name=data.get("witness_name", ""),
            notes=data.get("notes", ""),
        )


class SearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Name, date of birth (YYYY-MM-DD), health card number or phone",
    )
