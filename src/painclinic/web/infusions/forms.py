"""Infusion-day forms: raw text in, values with units out, one message per bad field.

Every state-changing form carries the session ``expected_version`` (``form.version``) and
hands its service a typed input (``form.to_input()``, a dataclass of ``inputs.py``). Rules shared
with the services live in ``rules.py`` (the services re-check them inside their transaction);
dose limits are the services' to refuse (a hard limit is audited with its values), so a form
only computes the rate a dose gives.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from painclinic.clinical.instruments.scales import PADSS_ITEMS
from painclinic.pharmacology import format_dose
from painclinic.web.infusions import policy
from painclinic.web.infusions.inputs import (
    AcknowledgeInput,
    AdverseEventInput,
    AmendmentInput,
    CancelInput,
    ChecklistInput,
    DischargeInput,
    DoubleCheckInput,
    NoteInput,
    ObservationInput,
    PauseInput,
    PrepareBagInput,
    RateChangeInput,
    ResumeInput,
    StartInput,
    StopInput,
    WasteRemainderInput,
)
from painclinic.web.infusions.models import (
    AEOutcome,
    AESeverity,
    AEType,
    AlertResponse,
    CancelReason,
    InfusionSession,
    PregnancyTest,
)
from painclinic.web.infusions.rules import (
    RATE_DOSE_UNITS,
    HardLimitRefused,
    Refused,
    calculate_rate,
    checklist_problems,
    drug_library,
    monitoring_thresholds,
    preparation_problems,
    remaining_planned_min,
    time_problem,
    vitals_problems,
)
from painclinic.web.lib.bounds import bounded_decimal, version_field
from painclinic.web.lib.widgets import IsoDateTimeInput
from painclinic.web.patients.forms import WEIGHT_MAX_KG, WEIGHT_MIN_KG

# Bounds of the typed doses, in any of the rate units (mg/h, mg/kg/h, mcg/kg/min): beyond them a
# number is a slip, whatever the drug library's limits say.
DOSE_MIN, DOSE_MAX = Decimal("0.0001"), Decimal("10000")

DATETIME_WIDGET = IsoDateTimeInput()


def symptom_choices() -> list[tuple[str, str]]:
    """The monitoring rules' own symptom vocabulary, in its order (lidocaine-toxicity prodrome
    first), with the words a nurse reads: the form and the rules share one list."""
    return [(s.id, s.label) for s in monitoring_thresholds().symptoms]


RASS_CHOICES = [("", "—")] + [
    (str(v), f"{v:+d}" if v else "0 alert and calm") for v in range(4, -6, -1)
]
MOAAS_CHOICES = [("", "—")] + [(str(v), str(v)) for v in range(5, -1, -1)]
ALDRETE_CHOICES = [("", "— score —"), ("2", "2"), ("1", "1"), ("0", "0")]
ALDRETE_LABELS = {
    "activity": "Activity (2 moves 4 limbs · 1 moves 2 · 0 none)",
    "respiration": "Respiration (2 breathes deeply, coughs · 1 dyspnoea · 0 apnoeic)",
    "circulation": "Circulation (2 BP within 20% of baseline · 1 within 20-49% · 0 ≥ 50%)",
    "consciousness": "Consciousness (2 fully awake · 1 arousable · 0 not responding)",
    "oxygen_saturation": "SpO2 (2 > 92% room air · 1 needs O2 for > 90% · 0 < 90% with O2)",
}

# The modified PADSS items the nurse answers; its vital-signs item is computed.
PADSS_NURSE_ITEMS = ("activity", "nausea_vomiting", "pain", "bleeding")


def padss_field(item: str, label: str) -> forms.TypedChoiceField:
    points = PADSS_ITEMS[item]
    return forms.TypedChoiceField(
        label=label,
        choices=[("", "— score —")] + [(str(n), f"{n} {w}") for n, w in points.items()],
        coerce=int,
        empty_value=None,
    )


def local_now() -> dt.datetime:
    return timezone.localtime().replace(second=0, microsecond=0)


def concentration_choices(values: list[float]) -> list[tuple[str, str]]:
    return [("", "— choose —")] + [(plain_number(v), format_dose(v, "mg/mL")) for v in values]


def plain_number(value: float) -> str:
    """10.0 -> "10", 0.5 -> "0.5": the value a select option posts."""
    return format(Decimal(repr(float(value))).normalize(), "f")


def all_standard_concentrations() -> list[float]:
    library = drug_library()
    values = {c for e in library.drugs.values() for c in e.standard_concentrations_mg_per_ml}
    return sorted(values)


def drug_choices() -> list[tuple[str, str]]:
    library = drug_library()
    return [("", "— choose —")] + [(k, e.display_name) for k, e in sorted(library.drugs.items())]


class VersionedForm(forms.Form):
    expected_version = version_field()

    def __init__(self, *args: Any, session: InfusionSession, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("expected_version", session.version)
        super().__init__(*args, **kwargs)
        self.session = session

    @property
    def version(self) -> int:
        """The session version the form was opened at (the service's ``expected_version``)."""
        return int(self.cleaned_data["expected_version"])

    def to_input(self) -> Any:
        """The service's typed input, from a valid form."""
        raise NotImplementedError

    def refuse(self, error: Refused) -> None:
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


def vital_field(label: str, unit: str) -> forms.IntegerField:
    return forms.IntegerField(label=f"{label} ({unit})", min_value=0, max_value=400)


class VitalsMixin(forms.Form):
    systolic_bp_mmhg = vital_field("Systolic BP", "mmHg")
    diastolic_bp_mmhg = vital_field("Diastolic BP", "mmHg")
    heart_rate_bpm = vital_field("Heart rate", "/min")
    respiratory_rate_per_min = vital_field("Respiratory rate", "/min")
    spo2_percent = vital_field("SpO2", "%")


class ChecklistForm(VersionedForm, VitalsMixin):
    # Registration's bounds: an absurd weight gets this message, not the eligibility re-screen.
    weight_kg = bounded_decimal(
        "Today's weight (kg)",
        what="Weight",
        low=WEIGHT_MIN_KG,
        high=WEIGHT_MAX_KG,
        message="Weight must be between 20 and 300 kg (kilograms only).",
        max_digits=5,
        decimal_places=1,
    )
    escort_name = forms.CharField(label="Escort home: name", max_length=120)
    escort_phone = forms.CharField(label="Escort home: phone", max_length=30)
    last_solids_at = forms.DateTimeField(label="Last solid food", widget=DATETIME_WIDGET)
    last_clear_fluids_at = forms.DateTimeField(label="Last clear fluids", widget=DATETIME_WIDGET)
    pregnancy_test = forms.ChoiceField(
        label="Pregnancy test", choices=PregnancyTest.choices, initial=PregnancyTest.NOT_APPLICABLE
    )
    no_new_conditions_confirmed = forms.BooleanField(
        label="Re-screened with the patient: no new illness, medication or allergy since the "
        "assessment",
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        solids, fluids = policy.fasting_hours()
        self.fields[
            "last_solids_at"
        ].help_text = f"Clinic policy: at least {solids.normalize()} h before the infusion."
        self.fields[
            "last_clear_fluids_at"
        ].help_text = f"Clinic policy: at least {fluids.normalize()} h."
        self.rescreen: dict[str, Any] | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        data = {k: v for k, v in cleaned.items() if k not in self.errors}
        problems, self.rescreen = checklist_problems(self.session, data, timezone.now())
        for field, message in problems.items():
            if field in self.errors:
                continue
            self.add_error(None if field == "__all__" else field, message)
        return cleaned

    def to_input(self) -> ChecklistInput:
        d = self.cleaned_data
        return ChecklistInput(
            systolic_bp_mmhg=d["systolic_bp_mmhg"],
            diastolic_bp_mmhg=d["diastolic_bp_mmhg"],
            heart_rate_bpm=d["heart_rate_bpm"],
            respiratory_rate_per_min=d["respiratory_rate_per_min"],
            spo2_percent=d["spo2_percent"],
            weight_kg=d["weight_kg"],
            escort_name=d["escort_name"],
            escort_phone=d["escort_phone"],
            last_solids_at=d["last_solids_at"],
            last_clear_fluids_at=d["last_clear_fluids_at"],
            pregnancy_test=d["pregnancy_test"],
            no_new_conditions_confirmed=bool(d.get("no_new_conditions_confirmed")),
        )


class _DoseEntryForm(VersionedForm):
    drug = forms.ChoiceField(label="Drug")
    bag_concentration_mg_per_ml = forms.TypedChoiceField(
        label="Bag concentration (from the label)", coerce=Decimal
    )
    dose_value = bounded_decimal(
        "Dose",
        what="The dose",
        low=DOSE_MIN,
        high=DOSE_MAX,
        unit="in its unit (check the number and the unit)",
        max_digits=9,
        decimal_places=4,
    )
    dose_unit = forms.ChoiceField(
        label="Dose unit", choices=[(u, u) for u in RATE_DOSE_UNITS], initial="mg/h"
    )
    pump_rate_entered_ml_per_h = bounded_decimal(
        "Pump rate as programmed (mL/h)",
        what="The pump rate",
        low=Decimal("0.01"),
        high=Decimal("1000"),
        unit="mL/h",
        max_digits=7,
        decimal_places=2,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["drug"].choices = drug_choices()  # type: ignore[attr-defined]
        self.fields["bag_concentration_mg_per_ml"].choices = concentration_choices(  # type: ignore[attr-defined]
            all_standard_concentrations()
        )


class PrepareForm(_DoseEntryForm):
    vial_concentration_mg_per_ml = forms.TypedChoiceField(
        label="Vial concentration (read the vial label)", coerce=Decimal
    )
    drawn_mg = bounded_decimal(
        "Drug drawn from vials into the bag (mg)",
        what="The drug drawn",
        low=Decimal("0.01"),
        high=Decimal("10000"),
        unit="mg",
        max_digits=8,
        decimal_places=2,
    )
    vial_lot = forms.CharField(label="Vial lot number", max_length=40)

    field_order = [
        "drug",
        "vial_concentration_mg_per_ml",
        "drawn_mg",
        "vial_lot",
        "bag_concentration_mg_per_ml",
        "dose_value",
        "dose_unit",
        "pump_rate_entered_ml_per_h",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        entry = drug_library().drug(self.session.plan.drug)
        self.fields["vial_concentration_mg_per_ml"].choices = concentration_choices(  # type: ignore[attr-defined]
            list(entry.vial_concentrations_mg_per_ml)
        )
        self.order_fields(self.field_order)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            problems = preparation_problems(self.session, cleaned)
        except HardLimitRefused:
            # The service refuses it, audited with the dose and the limit.
            return cleaned
        except Refused as error:
            self.refuse(error)
            return cleaned
        for field, message in problems.items():
            self.add_error(field, message)
        return cleaned

    def to_input(self) -> PrepareBagInput:
        d = self.cleaned_data
        return PrepareBagInput(
            drug=d["drug"],
            vial_concentration_mg_per_ml=d["vial_concentration_mg_per_ml"],
            drawn_mg=d["drawn_mg"],
            vial_lot=d["vial_lot"],
            bag_concentration_mg_per_ml=d["bag_concentration_mg_per_ml"],
            dose_value=d["dose_value"],
            dose_unit=d["dose_unit"],
            pump_rate_entered_ml_per_h=d["pump_rate_entered_ml_per_h"],
        )


def limit_reason_field() -> forms.CharField:
    return forms.CharField(
        label="Reason, only if the 24-hour total is above the drug library's soft limit",
        max_length=300,
        required=False,
        help_text="The patient's dose over 24 hours counts every session. Above a soft limit "
        "the infusion needs a reason (a hard limit cannot be overridden).",
    )


class DoubleCheckForm(_DoseEntryForm):
    """Nurse 2's blind entry: never given nurse 1's values (no initial data at all)."""

    limit_reason = limit_reason_field()

    def to_input(self) -> DoubleCheckInput:
        d = self.cleaned_data
        return DoubleCheckInput(
            drug=d["drug"],
            bag_concentration_mg_per_ml=d["bag_concentration_mg_per_ml"],
            dose_value=d["dose_value"],
            dose_unit=d["dose_unit"],
            pump_rate_entered_ml_per_h=d["pump_rate_entered_ml_per_h"],
            limit_reason=d.get("limit_reason") or "",
        )


class TimedForm(VersionedForm):
    at = forms.DateTimeField(label="Time", widget=DATETIME_WIDGET)
    what = "event"

    def __init__(self, *args: Any, not_before: dt.datetime | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("at", local_now())
        super().__init__(*args, **kwargs)
        self.not_before = not_before

    def clean_at(self) -> dt.datetime:
        at: dt.datetime = self.cleaned_data["at"]
        problem = time_problem(at, self.not_before, self.what)
        if problem:
            raise forms.ValidationError(problem)
        return at


class StartForm(TimedForm):
    what = "start"
    limit_reason = limit_reason_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["limit_reason"].help_text = (
            "A reason given at the double check carries over; give one here if the start is "
            "refused for the 24-hour total."
        )

    def to_input(self) -> StartInput:
        return StartInput(
            at=self.cleaned_data["at"], limit_reason=self.cleaned_data.get("limit_reason") or ""
        )


class PauseForm(TimedForm):
    what = "pause"
    reason = forms.CharField(label="Reason", max_length=200, required=False)

    def to_input(self) -> PauseInput:
        return PauseInput(at=self.cleaned_data["at"], reason=self.cleaned_data.get("reason", ""))


class ResumeForm(TimedForm):
    what = "resume"

    def to_input(self) -> ResumeInput:
        return ResumeInput(at=self.cleaned_data["at"])


class StopForm(TimedForm):
    what = "stop"
    reason = forms.CharField(label="Reason (if stopped early)", max_length=200, required=False)

    def to_input(self) -> StopInput:
        return StopInput(at=self.cleaned_data["at"], reason=self.cleaned_data.get("reason", ""))


class RateFieldsMixin(forms.Form):
    dose_value = bounded_decimal(
        "New dose",
        what="The dose",
        low=DOSE_MIN,
        high=DOSE_MAX,
        unit="in its unit (check the number and the unit)",
        max_digits=9,
        decimal_places=4,
        required=False,
    )
    dose_unit = forms.ChoiceField(
        label="Dose unit", choices=[(u, u) for u in RATE_DOSE_UNITS], initial="mg/h"
    )
    limit_reason = forms.CharField(
        label="Reason (required above a soft limit)", max_length=300, required=False
    )

    def check_rate(self, session: InfusionSession, cleaned: dict[str, Any]) -> None:
        """The rate the new dose gives (``rate_result``); its limits are the service's."""
        if cleaned.get("dose_value") is None:
            self.add_error("dose_value", "Enter the new dose.")
            return
        running = session.segments.filter(ended_at__isnull=True).first()
        if running is None:
            self.add_error(None, "No rate is running.")
            return
        first = session.segments.order_by("started_at").first()
        at = cleaned.get("at") or timezone.now()
        elapsed = (at - first.started_at).total_seconds() / 60 if first else 0.0
        try:
            result = calculate_rate(
                session,
                dose_value=cleaned["dose_value"],
                dose_unit=cleaned["dose_unit"],
                concentration_mg_per_ml=running.concentration_mg_per_ml,
                duration_min=remaining_planned_min(session, elapsed),
            )
        except Refused as error:
            self.add_error("dose_value", error.message)
            return
        self.rate_result = result


class RateChangeForm(TimedForm, RateFieldsMixin):
    what = "rate change"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            self.check_rate(self.session, cleaned)
        return cleaned

    def to_input(self) -> RateChangeInput:
        d = self.cleaned_data
        return RateChangeInput(
            at=d["at"],
            dose_value=d["dose_value"],
            dose_unit=d["dose_unit"],
            limit_reason=d.get("limit_reason") or "",
        )


class ObservationForm(VersionedForm, VitalsMixin):
    observed_at = forms.DateTimeField(label="Time of the observation", widget=DATETIME_WIDGET)
    incomplete_ok = forms.BooleanField(
        label="A value could not be measured: record this round as incomplete (the chart "
        "then asks for it)",
        required=False,
    )
    rass = forms.TypedChoiceField(
        label="RASS", choices=RASS_CHOICES, coerce=int, required=False, empty_value=None
    )
    moaas = forms.TypedChoiceField(
        label="MOAA/S", choices=MOAAS_CHOICES, coerce=int, required=False, empty_value=None
    )
    cadss6 = forms.IntegerField(
        label="Dissociation: CADSS-6 total (0-24)", min_value=0, max_value=24, required=False
    )
    pain_nrs = forms.IntegerField(
        label="Pain NRS (0-10)", min_value=0, max_value=10, required=False
    )
    symptoms = forms.MultipleChoiceField(
        label="Symptoms (signs of lidocaine toxicity first)",
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    note = forms.CharField(label="Note", max_length=300, required=False)

    VITALS = (
        "systolic_bp_mmhg",
        "diastolic_bp_mmhg",
        "heart_rate_bpm",
        "respiratory_rate_per_min",
        "spo2_percent",
    )

    def __init__(self, *args: Any, not_before: dt.datetime | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("observed_at", local_now())
        super().__init__(*args, **kwargs)
        self.not_before = not_before
        symptoms = self.fields["symptoms"]
        assert isinstance(symptoms, forms.MultipleChoiceField)
        symptoms.choices = symptom_choices()
        for name in self.VITALS:
            self.fields[name].required = False
        self.order_fields(["observed_at", *self.VITALS, "rass", "moaas", "cadss6", "pain_nrs",
                           "symptoms", "note", "incomplete_ok"])  # fmt: skip

    def clean_observed_at(self) -> dt.datetime:
        at: dt.datetime = self.cleaned_data["observed_at"]
        problem = time_problem(at, self.not_before, "observation")
        if problem:
            raise forms.ValidationError(problem.replace("previous charted event", "infusion start"))
        return at

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for field, message in vitals_problems(cleaned).items():
            if field not in self.errors:
                self.add_error(field, message)
        if cleaned.get("incomplete_ok"):
            return cleaned
        for name in self.VITALS:
            if cleaned.get(name) is None and name not in self.errors:
                self.add_error(
                    name,
                    f"Enter the {self.fields[name].label}, or tick "
                    "'record this round as incomplete' if it could not be measured.",
                )
        if cleaned.get("rass") is None and cleaned.get("moaas") is None:
            self.add_error(
                "rass",
                "Record sedation: RASS or MOAA/S (or tick 'record this round as incomplete').",
            )
        return cleaned

    def to_input(self) -> ObservationInput:
        d = self.cleaned_data
        return ObservationInput(
            observed_at=d["observed_at"],
            systolic_bp_mmhg=d.get("systolic_bp_mmhg"),
            diastolic_bp_mmhg=d.get("diastolic_bp_mmhg"),
            heart_rate_bpm=d.get("heart_rate_bpm"),
            respiratory_rate_per_min=d.get("respiratory_rate_per_min"),
            spo2_percent=d.get("spo2_percent"),
            rass=d.get("rass"),
            moaas=d.get("moaas"),
            cadss6=d.get("cadss6"),
            pain_nrs=d.get("pain_nrs"),
            symptoms=tuple(d.get("symptoms") or ()),
            note=d.get("note") or "",
        )


class AcknowledgeForm(TimedForm, RateFieldsMixin):
    what = "acknowledgement"
    response = forms.ChoiceField(
        label="Action taken", choices=AlertResponse.choices, widget=forms.RadioSelect
    )
    action_taken = forms.CharField(
        label="What you did (e.g. physician informed, rate reduced)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
    )

    field_order = ["response", "dose_value", "dose_unit", "limit_reason", "action_taken", "at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(self.field_order)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        if cleaned.get("response") == AlertResponse.REDUCE_RATE:
            self.check_rate(self.session, cleaned)
        return cleaned

    def to_input(self) -> AcknowledgeInput:
        d = self.cleaned_data
        return AcknowledgeInput(
            response=d["response"],
            action_taken=d["action_taken"],
            at=d.get("at"),
            dose_value=d.get("dose_value"),
            dose_unit=d.get("dose_unit") or "mg/h",
            limit_reason=d.get("limit_reason") or "",
        )


class AdverseEventForm(VersionedForm):
    occurred_at = forms.DateTimeField(label="When", widget=DATETIME_WIDGET)
    event_type = forms.ChoiceField(label="Type", choices=AEType.choices)
    severity = forms.ChoiceField(label="Severity", choices=AESeverity.choices)
    description = forms.CharField(
        label="Description", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    action_taken = forms.CharField(label="Action taken", widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.ChoiceField(label="Outcome", choices=AEOutcome.choices)
    serious = forms.BooleanField(
        label="Serious (24-hour report to the CPSO out-of-hospital premises programme)",
        required=False,
        help_text="Severe, life-threatening, death and transfer to hospital are always serious.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("occurred_at", local_now())
        super().__init__(*args, **kwargs)

    def clean_occurred_at(self) -> dt.datetime:
        at: dt.datetime = self.cleaned_data["occurred_at"]
        problem = time_problem(at, None, "event")
        if problem:
            raise forms.ValidationError(problem)
        return at

    def to_input(self) -> AdverseEventInput:
        d = self.cleaned_data
        return AdverseEventInput(
            occurred_at=d["occurred_at"],
            event_type=d["event_type"],
            severity=d["severity"],
            action_taken=d["action_taken"],
            outcome=d["outcome"],
            description=d.get("description") or "",
            serious=bool(d.get("serious")),
        )


class DischargeForm(TimedForm):
    what = "discharge"
    activity = forms.TypedChoiceField(
        label=ALDRETE_LABELS["activity"], choices=ALDRETE_CHOICES, coerce=int
    )
    respiration = forms.TypedChoiceField(
        label=ALDRETE_LABELS["respiration"], choices=ALDRETE_CHOICES, coerce=int
    )
    circulation = forms.TypedChoiceField(
        label=ALDRETE_LABELS["circulation"], choices=ALDRETE_CHOICES, coerce=int
    )
    consciousness = forms.TypedChoiceField(
        label=ALDRETE_LABELS["consciousness"], choices=ALDRETE_CHOICES, coerce=int
    )
    oxygen_saturation = forms.TypedChoiceField(
        label=ALDRETE_LABELS["oxygen_saturation"], choices=ALDRETE_CHOICES, coerce=int
    )
    padss_activity = padss_field("activity", "PADSS: walking")
    padss_nausea_vomiting = padss_field("nausea_vomiting", "PADSS: nausea and vomiting")
    padss_pain = padss_field("pain", "PADSS: pain (against the patient's usual pain)")
    padss_bleeding = padss_field("bleeding", "PADSS: bleeding at the cannula site")
    escort_name = forms.CharField(label="Escort: name", max_length=120, required=False)
    escort_phone = forms.CharField(label="Escort: phone", max_length=30, required=False)
    escort_confirmed = forms.BooleanField(
        label="The escort is here and takes the patient home", required=False
    )

    def aldrete(self) -> dict[str, int]:
        return {k: int(self.cleaned_data[k]) for k in ALDRETE_LABELS}

    def padss(self) -> dict[str, int | None]:
        return {k: self.cleaned_data.get(f"padss_{k}") for k in PADSS_NURSE_ITEMS}

    def to_input(self) -> DischargeInput:
        d = self.cleaned_data
        return DischargeInput.with_aldrete(
            d["at"],
            self.aldrete(),
            escort_name=d.get("escort_name") or "",
            escort_phone=d.get("escort_phone") or "",
            escort_confirmed=bool(d.get("escort_confirmed")),
            padss=self.padss(),
        )


class NoteForm(VersionedForm):
    text = forms.CharField(label="Session summary", widget=forms.Textarea(attrs={"rows": 14}))

    def to_input(self, *, sign: bool = False) -> NoteInput:
        return NoteInput(text=self.cleaned_data["text"], sign=sign)


class AmendmentForm(VersionedForm):
    text = forms.CharField(label="Correction", widget=forms.Textarea(attrs={"rows": 4}))
    reason = forms.CharField(label="Reason for the amendment", max_length=300)

    def to_input(self) -> AmendmentInput:
        return AmendmentInput(text=self.cleaned_data["text"], reason=self.cleaned_data["reason"])


def _witness_fields(form: forms.Form, user_id: int) -> None:
    """The witness and their password, exactly as on the drug register's waste page."""
    from painclinic.web.drugregister.forms import WitnessedFormMixin

    template = WitnessedFormMixin(user_id=user_id)
    form.fields["witness"] = template.fields["witness"]
    form.fields["witness_password"] = template.fields["witness_password"]


class WasteRemainderForm(VersionedForm):
    """The witness signs the waste of the computed remainder (no amount is typed)."""

    def __init__(self, *args: Any, user_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _witness_fields(self, user_id)

    def to_input(self) -> WasteRemainderInput:
        return WasteRemainderInput(
            witness=self.cleaned_data.get("witness"),
            witness_password=self.cleaned_data.get("witness_password") or "",
        )


class CancelSessionForm(VersionedForm):
    reason = forms.ChoiceField(
        label="Why is the session cancelled?",
        choices=CancelReason.choices,
        widget=forms.RadioSelect,
    )
    detail = forms.CharField(
        label="Details (required for Other)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=500,
        required=False,
    )

    def __init__(self, *args: Any, user_id: int, needs_witness: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_witness = needs_witness
        if needs_witness:
            _witness_fields(self, user_id)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("reason") == CancelReason.OTHER
            and not (cleaned.get("detail") or "").strip()
        ):
            self.add_error("detail", "Say why the session is cancelled.")
        return cleaned

    def to_input(self) -> CancelInput:
        d = self.cleaned_data
        return CancelInput(
            reason=d["reason"],
            detail=d.get("detail") or "",
            witness=d.get("witness"),
            witness_password=d.get("witness_password") or "",
        )


class OpenOffDayForm(forms.Form):
    """A physician's reason for opening a chart on another day than its booking's."""

    reason = forms.CharField(
        label="Why the chart is opened on this day",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept on the chart and in the audit trail, with your name.",
    )


class ReportedForm(forms.Form):
    reference = forms.CharField(
        label="Report reference",
        max_length=200,
        help_text="The CPSO/OHP report number, or to whom and how the report was sent.",
    )

    def clean_reference(self) -> str:
        value = self.cleaned_data["reference"].strip()
        if not value:
            raise forms.ValidationError("Give the report number or to whom it was sent.")
        return value
