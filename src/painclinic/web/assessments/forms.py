"""Forms built from the clinical core's instrument templates, and the eligibility facts form.

An instrument form has one field per ``ItemSpec`` of ``painclinic.clinical.template(name)``,
built from the spec's structured fields: ``kind`` (boolean -> checkbox, integer -> radio buttons
from ``minimum`` to ``maximum`` in ``step``s, choice -> radio buttons over ``options``), the
answer labels from ``options`` and "Not answered" when the item is ``optional``. The item's
``allowed`` prose is for people and is not read here. The answers are scored by
``painclinic.clinical.score`` in ``clean()``, so the form accepts exactly what the scorer
accepts, and a ``ClinicalInputError`` lands on the field of the item it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.forms import formset_factory

from painclinic import clinical
from painclinic.clinical.eligibility import COMORBIDITIES, ECG_FINDINGS, OUTCOMES, PREGNANCY
from painclinic.clinical.instruments import ItemKind, ItemSpec
from painclinic.web.assessments.models import EngineStatus, PhysicianDecision
from painclinic.web.assessments.services import DrugDecision, EligibilityInput, PriorTreatment
from painclinic.web.lib.bounds import version_field

# --- instrument forms -----------------------------------------------------------------------

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")  # answer key paths, not prose

GROUP_TITLES = {
    "symptoms": "Symptoms the patient reports",
    "signs": "Signs you observe at the examination",
    "painful_areas": "Pain in the past week",
    "severity": "Pain severity (last 24 hours)",
    "interference": "How much pain interfered (last 24 hours)",
    "sensory": "Sensory",
    "vasomotor": "Vasomotor",
    "sudomotor_edema": "Sudomotor / oedema",
    "motor_trophic": "Motor / trophic",
}


# Where the core's item wording reads awkwardly as a form label (the items themselves, their
# keys and allowed values, still come from the template).
LABEL_OVERRIDES = {
    ("bpi", "severity.now"): "Pain right now",
    ("bpi", "relief_percent"): "Relief from treatments or medicines in the last 24 hours (%)",
    ("pgic", "score"): "Since starting treatment, how has the patient's pain condition changed "
    "overall (activity, symptoms, mood, quality of life)?",
    ("acr2016", "symptoms_at_least_3_months"): "Symptoms present for at least 3 months",
}


def item_label(instrument: str, key: str, wording: str) -> str:
    if (instrument, key) in LABEL_OVERRIDES:
        return LABEL_OVERRIDES[(instrument, key)]
    tokens = key_tokens(key)
    if instrument == "acr2016" and tokens[0] == "painful_areas":
        # The group heading names the region: "Pain in the past week · Left upper" -> "Jaw".
        return humanize(str(tokens[-1]))
    return humanize(wording)


def key_tokens(key: str) -> list[str | int]:
    """``symptoms.sensory.allodynia`` -> [symptoms, sensory, allodynia]; ``items[8]`` -> [items,
    8]."""
    return [name if name else int(index) for name, index in _TOKEN.findall(key)]


def field_name(key: str) -> str:
    return re.sub(r"\W+", "_", key).strip("_")


_ACRONYMS = {"crps": "CRPS", "wpi": "WPI", "sss": "SSS", "nrs": "NRS"}


def humanize(text: str) -> str:
    """``crps_clinical_criteria_met`` -> ``CRPS clinical criteria met``; ``criterion_a`` ->
    ``Criterion A``."""
    words = text.replace("_", " ").strip().split(" ")
    words = [_ACRONYMS.get(w, w) for w in words]
    if len(words) == 2 and words[0] == "criterion" and len(words[1]) == 1:
        words[1] = words[1].upper()
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def get_path(data: Any, key: str) -> Any:
    for token in key_tokens(key):
        data = data[token]
    return data


@dataclass(frozen=True)
class ItemField:
    key: str
    name: str
    group: str
    label: str


def _group_title(key: str) -> str:
    tokens = [t for t in key_tokens(key)[:-1] if isinstance(t, str)]
    if not tokens or tokens == ["items"]:
        return ""
    return " · ".join(GROUP_TITLES.get(t, humanize(t)) for t in tokens)


def _number_field(spec: ItemSpec) -> forms.Field:
    """Radio buttons over ``minimum..maximum`` in ``step``s, labelled from ``options``."""
    labels = spec.labels
    choices: list[tuple[str, str]] = [
        (str(n), f"{n} · {humanize(labels[n])}" if n in labels else str(n)) for n in spec.values()
    ]
    if spec.optional:
        choices.insert(0, ("", "Not answered"))
    return forms.TypedChoiceField(
        choices=choices,
        coerce=int,
        empty_value=None,
        required=not spec.optional,
        widget=forms.RadioSelect(attrs={"class": "scale"}),
    )


def _item_field(spec: ItemSpec, default: Any) -> forms.Field:
    field: forms.Field
    if spec.kind is ItemKind.BOOLEAN:
        field = forms.BooleanField(required=False)
    elif spec.kind is ItemKind.CHOICE:
        choices = [(str(value), humanize(label)) for value, label in spec.options]
        if spec.optional:
            choices.insert(0, ("", "Not answered"))
        field = forms.TypedChoiceField(
            choices=choices,
            empty_value=None,
            required=not spec.optional,
            widget=forms.RadioSelect(attrs={"class": "scale"}),
        )
        field.initial = default
    else:
        field = _number_field(spec)
    return field


class InstrumentForm(forms.Form):
    """One field per item of ``painclinic.clinical.template(instrument)``."""

    def __init__(
        self,
        *args: Any,
        instrument: str,
        answers: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.template = clinical.template(instrument)
        self.items: list[ItemField] = []
        self.result: clinical.InstrumentResult | None = None
        self._by_key: dict[str, str] = {}
        for spec in self.template.items:
            name = field_name(spec.key)
            field = _item_field(spec, get_path(self.template.skeleton, spec.key))
            tokens = key_tokens(spec.key)
            label = item_label(instrument, spec.key, spec.wording)
            if isinstance(tokens[-1], int):
                label = f"{tokens[-1] + 1}. {label}"
            field.label = label
            if answers is not None:
                value = get_path(answers, spec.key)
                field.initial = "" if value is None else value
            self.fields[name] = field
            self.items.append(ItemField(spec.key, name, _group_title(spec.key), label))
            self._by_key[spec.key] = name

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        out: list[tuple[str, list[forms.BoundField]]] = []
        for item in self.items:
            if not out or out[-1][0] != item.group:
                out.append((item.group, []))
            out[-1][1].append(self[item.name])
        return out

    def answers(self) -> dict[str, Any]:
        return clinical.answers_from_items(
            self.instrument, {item.key: self.cleaned_data.get(item.name) for item in self.items}
        )

    def error_field(self, core_field: str) -> str | None:
        """The form field for the item a ClinicalInputError names (None: the whole form)."""
        return self._by_key.get(core_field)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            self.result = clinical.score(self.instrument, self.answers())
        except clinical.ClinicalInputError as error:
            self.add_error(self.error_field(error.field), error.message)
        return cleaned


class CorrectionForm(InstrumentForm):
    correction_reason = forms.CharField(
        max_length=300,
        label="Why the original is wrong",
        widget=forms.TextInput(),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reason = self.fields.pop("correction_reason")
        self.fields["correction_reason"] = reason  # keep it after the items

    def clean_correction_reason(self) -> str:
        reason: str = self.cleaned_data["correction_reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the original is wrong.")
        return reason


# --- eligibility facts ----------------------------------------------------------------------

COMORBIDITY_LABELS = {
    "poorly_controlled_cardiovascular_disease": "Poorly controlled cardiovascular disease",
    "cardiac_risk_factors": "Cardiac risk factors",
    "severe_hepatic_impairment": "Severe hepatic impairment",
    "moderate_hepatic_impairment": "Moderate hepatic impairment",
    "severe_renal_impairment": "Severe renal impairment",
    "raised_intracranial_pressure": "Raised intracranial pressure",
    "raised_intraocular_pressure": "Raised intraocular pressure (e.g. glaucoma)",
    "seizure_disorder": "Seizure disorder",
    "reduced_consciousness": "Reduced level of consciousness",
    "atrial_fibrillation": "Atrial fibrillation",
    "conduction_block": "Conduction block",
    "stokes_adams_attacks": "Stokes-Adams attacks",
    "pacemaker": "Pacemaker",
    "amide_local_anaesthetic_allergy": "Allergy to amide local anaesthetics",
    "heart_failure": "Heart failure",
    "recent_myocardial_infarction": "Recent myocardial infarction",
    "pulmonary_disease": "Pulmonary disease",
    "sick_sinus_or_av_node_dysfunction": "Sick sinus syndrome or AV-node dysfunction",
    "hypercarbia_or_acidosis": "Hypercarbia or acidosis",
    "unstable_angina": "Unstable angina",
    "stroke": "Stroke or cerebrovascular disease",
    "aneurysm": "Aneurysm (aortic or cerebral)",
    "ketamine_hypersensitivity": "Hypersensitivity to ketamine",
    "untreated_hyperthyroidism": "Untreated hyperthyroidism",
    "pre_excitation": "Pre-excitation (Wolff-Parkinson-White)",
}
ECG_LABELS = {
    "conduction_block": "Conduction block",
    "atrial_fibrillation": "Atrial fibrillation",
    "qrs_widening": "QRS widening",
    "pr_prolongation": "PR prolongation",
    "pre_excitation": "Pre-excitation (delta wave)",
}
PREGNANCY_LABELS = {
    "unknown": "Unknown (not yet recorded)",
    "not_pregnant": "Not pregnant (test or history)",
    "not_applicable": "Not applicable",
    "pregnant": "Pregnant",
}
OUTCOME_LABELS = {o: humanize(o) for o in OUTCOMES}


def _vital(label: str, lo: int, hi: int, unit: str) -> forms.IntegerField:
    # Validation messages are %-formatted: a literal percent sign is doubled.
    message = f"{label} must be between {lo} and {hi} {unit.replace('%', '%%')}."
    return forms.IntegerField(
        label=f"{label} ({unit})",
        required=False,
        min_value=lo,
        max_value=hi,
        error_messages={"min_value": message, "max_value": message},
    )


class FactsForm(forms.Form):
    """The facts the clinic does not store elsewhere (the rest comes from the record)."""

    condition = forms.ChoiceField(label="Condition being treated")
    comorbidities = forms.MultipleChoiceField(
        required=False,
        label="Tick each one the patient has",
        choices=[(c, COMORBIDITY_LABELS.get(c, humanize(c))) for c in COMORBIDITIES],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "checks"}),
    )
    current_medications = forms.CharField(
        required=False,
        label="Current medicines, one per line as written (brand or generic name, dose)",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
    )
    clinician_confirmed = forms.TypedChoiceField(
        required=False,
        label="Your clinical diagnosis of the condition",
        choices=[
            ("", "Not recorded"),
            ("yes", "Confirmed by my examination"),
            ("no", "Not confirmed"),
        ],
        coerce=lambda v: {"yes": True, "no": False}.get(v),
        empty_value=None,
    )
    months_since_rash = forms.DecimalField(
        required=False,
        label="Postherpetic neuralgia: months since the shingles rash",
        min_value=Decimal("0"),
        max_value=Decimal("1200"),
        max_digits=6,
        decimal_places=1,
        error_messages={
            "min_value": "Months since the rash cannot be negative.",
            "max_value": "Months since the rash must be at most 1200.",
        },
    )
    diabetic_neuropathy_confirmed = forms.TypedChoiceField(
        required=False,
        label="Painful diabetic neuropathy: neuropathy confirmed",
        choices=[("", "Not recorded"), ("yes", "Yes"), ("no", "No")],
        coerce=lambda v: {"yes": True, "no": False}.get(v),
        empty_value=None,
    )
    systolic_bp_mmhg = _vital("Systolic blood pressure", 50, 260, "mmHg")
    diastolic_bp_mmhg = _vital("Diastolic blood pressure", 20, 160, "mmHg")
    heart_rate_bpm = _vital("Heart rate", 20, 250, "beats/min")
    respiratory_rate_per_min = _vital("Respiratory rate", 4, 60, "breaths/min")
    spo2_percent = _vital("Oxygen saturation", 50, 100, "%")
    pregnancy = forms.ChoiceField(
        label="Pregnancy",
        choices=[(p, PREGNANCY_LABELS.get(p, humanize(p))) for p in PREGNANCY],
        initial="unknown",
    )
    active_substance_use_disorder = forms.BooleanField(
        required=False, label="Active substance use disorder"
    )
    history_substance_use_disorder = forms.BooleanField(
        required=False, label="History of substance use disorder"
    )
    poorly_controlled_psychosis = forms.BooleanField(
        required=False, label="Poorly controlled psychosis"
    )
    history_psychosis_or_mania = forms.BooleanField(
        required=False, label="Psychosis or mania, now or in the past"
    )
    self_harm_risk = forms.BooleanField(
        required=False,
        label="Risk of self-harm (also set automatically by a PHQ-9 item 9 above 0 on file)",
    )
    ecg_on_file = forms.TypedChoiceField(
        label="ECG",
        choices=[("no", "No ECG on file"), ("yes", "ECG on file")],
        coerce=lambda v: v == "yes",
        initial="no",
    )
    ecg_findings = forms.MultipleChoiceField(
        required=False,
        label="ECG findings",
        choices=[(f, ECG_LABELS.get(f, humanize(f))) for f in ECG_FINDINGS],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "checks"}),
    )
    liver_tests_on_file = forms.BooleanField(required=False, label="Liver tests on file")
    other_local_anaesthetic_within_4h = forms.BooleanField(
        required=False,
        label="Local anaesthetic by another route within 4 h (e.g. a nerve block)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        catalogue = clinical.load_conditions()
        self.fields["condition"].choices = [  # type: ignore[attr-defined]
            (c.id, c.name) for c in catalogue.conditions.values()
        ]

    def clean_current_medications(self) -> list[str]:
        """One medicine per line, kept as written (the engine codes each line; a line it does
        not recognise is shown as 'not recognised, check by hand')."""
        text: str = self.cleaned_data.get("current_medications") or ""
        lines = [" ".join(n.split()) for n in re.split(r"[\n;]+", text)]
        return list(dict.fromkeys(n for n in lines if n))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        sbp, dbp = cleaned.get("systolic_bp_mmhg"), cleaned.get("diastolic_bp_mmhg")
        if sbp is not None and dbp is not None and dbp >= sbp:
            self.add_error(
                "diastolic_bp_mmhg", "The diastolic pressure must be below the systolic."
            )
        if (sbp is None) != (dbp is None) and not self.has_error("diastolic_bp_mmhg"):
            self.add_error(
                "systolic_bp_mmhg" if sbp is None else "diastolic_bp_mmhg",
                "Record both the systolic and the diastolic pressure.",
            )
        if cleaned.get("ecg_findings") and not cleaned.get("ecg_on_file"):
            self.add_error("ecg_findings", "Findings need an ECG on file: choose 'ECG on file'.")
        return cleaned

    def to_input(self, treatments: list[PriorTreatment]) -> EligibilityInput:
        """The service's input (see services.build_facts), with the prior-treatment rows."""
        c = self.cleaned_data
        return EligibilityInput(
            condition=c["condition"],
            comorbidities=tuple(c["comorbidities"]),
            current_medications=tuple(c["current_medications"]),
            systolic_bp_mmhg=c.get("systolic_bp_mmhg"),
            diastolic_bp_mmhg=c.get("diastolic_bp_mmhg"),
            heart_rate_bpm=c.get("heart_rate_bpm"),
            respiratory_rate_per_min=c.get("respiratory_rate_per_min"),
            spo2_percent=c.get("spo2_percent"),
            pregnancy=c["pregnancy"],
            active_substance_use_disorder=c["active_substance_use_disorder"],
            history_substance_use_disorder=c["history_substance_use_disorder"],
            poorly_controlled_psychosis=c["poorly_controlled_psychosis"],
            history_psychosis_or_mania=c["history_psychosis_or_mania"],
            clinician_confirmed=c.get("clinician_confirmed"),
            months_since_rash=(
                float(c["months_since_rash"]) if c.get("months_since_rash") is not None else None
            ),
            diabetic_neuropathy_confirmed=c.get("diabetic_neuropathy_confirmed"),
            self_harm_risk=c["self_harm_risk"],
            ecg_on_file=c["ecg_on_file"],
            ecg_findings=tuple(c["ecg_findings"]) if c["ecg_on_file"] else (),
            liver_tests_on_file=c["liver_tests_on_file"],
            other_local_anaesthetic_within_4h=c["other_local_anaesthetic_within_4h"],
            prior_treatments=tuple(treatments),
        )


def initial_from_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """Form initial values from an earlier decision's facts (so nothing is typed twice).

    Vital signs and pregnancy status are not carried over: they are today's facts, and a stale
    value must not slip into a new decision."""
    ecg = facts.get("ecg")
    diagnosis = facts["diagnosis"]
    findings = diagnosis.get("findings") or {}
    yes_no = {True: "yes", False: "no"}
    confirmed = (
        yes_no.get(diagnosis["clinician_confirmed"], "")
        if "clinician_confirmed" in diagnosis and diagnosis["clinician_confirmed"] is not None
        else ""
    )
    neuropathy = findings.get("diabetic_neuropathy_confirmed")
    return {
        "condition": diagnosis["condition"],
        "clinician_confirmed": confirmed,
        "months_since_rash": findings.get("months_since_rash"),
        "diabetic_neuropathy_confirmed": yes_no.get(neuropathy, "")
        if neuropathy is not None
        else "",
        "comorbidities": [k for k, v in (facts.get("comorbidities") or {}).items() if v],
        "current_medications": "\n".join(
            m["text"] if isinstance(m, dict) else m for m in facts.get("current_medications") or []
        ),
        **(facts.get("substance_use") or {}),
        **(facts.get("psychiatric") or {}),
        "ecg_on_file": "yes" if ecg is not None else "no",
        "ecg_findings": [k for k, v in (ecg or {}).items() if v],
        "liver_tests_on_file": (facts.get("labs") or {}).get("liver_tests_on_file", False),
        "other_local_anaesthetic_within_4h": facts.get("other_local_anaesthetic_within_4h"),
    }


def _amount(label: str, max_value: int) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal(max_value),
        max_digits=8,
        decimal_places=2,
        error_messages={
            "min_value": f"{label} cannot be negative.",
            "max_value": f"{label} must be at most {max_value}.",
        },
    )


class PriorTreatmentForm(forms.Form):
    treatment = forms.CharField(
        required=False,
        max_length=60,
        label="Treatment (generic name or therapy)",
        widget=forms.TextInput(attrs={"list": "known-treatments", "autocomplete": "off"}),
    )
    max_daily_dose_mg = _amount("Highest daily dose (mg)", 100000)
    duration_weeks = _amount("Duration (weeks)", 1000)
    outcome = forms.ChoiceField(
        required=False, choices=[("", "—"), *OUTCOME_LABELS.items()], label="Outcome"
    )
    total_dose_mg = _amount("Infusion total dose (mg)", 100000)
    infusion_duration_h = _amount("Infusion duration (h)", 200)

    def clean_treatment(self) -> str:
        return re.sub(r"\s+", "_", (self.cleaned_data.get("treatment") or "").strip().lower())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("treatment") and not cleaned.get("outcome"):
            self.add_error("outcome", "Choose the outcome of this treatment.")
        others = ("max_daily_dose_mg", "duration_weeks", "total_dose_mg", "infusion_duration_h")
        if not cleaned.get("treatment") and (
            cleaned.get("outcome") or any(cleaned.get(k) is not None for k in others)
        ):
            self.add_error("treatment", "Name the treatment these details belong to.")
        return cleaned

    def to_input(self) -> PriorTreatment | None:
        """The row as the service's input, or None for an empty row."""
        c = self.cleaned_data
        if not c.get("treatment"):
            return None

        def number(name: str) -> float | None:
            value = c.get(name)
            return None if value is None else float(value)

        return PriorTreatment(
            treatment=c["treatment"],
            outcome=c["outcome"],
            max_daily_dose_mg=number("max_daily_dose_mg"),
            duration_weeks=number("duration_weeks"),
            total_dose_mg=number("total_dose_mg"),
            infusion_duration_h=number("infusion_duration_h"),
        )


PriorTreatmentFormSet = formset_factory(PriorTreatmentForm, extra=4, max_num=30)


def treatments_initial(facts: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not facts:
        return []
    rows = []
    for t in facts.get("prior_treatments") or []:
        rows.append(
            {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in t.items() if v is not None}
        )
    return rows


def known_treatments() -> list[str]:
    names = {"ketamine", "lidocaine"}
    for condition in clinical.load_conditions().conditions.values():
        for option in condition.first_line:
            names.update(agent.drug for agent in option.agents)
    return sorted(names)


# --- the physician's decision ---------------------------------------------------------------

DRUGS = ("ketamine", "lidocaine")


class DecisionForm(forms.Form):
    """Accept or override, per drug; an override needs the status decided and a reason."""

    def __init__(self, *args: Any, seen: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for drug in DRUGS:
            name = drug.capitalize()
            self.fields[f"{drug}_decision"] = forms.ChoiceField(
                required=False,
                label=f"{name}: your decision",
                choices=[
                    ("", "Not deciding now"),
                    (PhysicianDecision.ACCEPT, "Accept the recommendation"),
                    (PhysicianDecision.OVERRIDE, "Override it"),
                ],
                widget=forms.RadioSelect(attrs={"class": "scale"}),
                initial="",
            )
            self.fields[f"{drug}_final_status"] = forms.ChoiceField(
                required=False,
                label=f"{name}: status you decide on (override only)",
                choices=[("", "—"), *EngineStatus.choices],
            )
            self.fields[f"{drug}_override_reason"] = forms.CharField(
                required=False,
                max_length=2000,
                label=f"{name}: reason for the override",
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.fields[f"{drug}_seen_status"] = forms.ChoiceField(
                required=False, choices=[("", ""), *EngineStatus.choices], widget=forms.HiddenInput
            )
            if seen and drug in seen:
                self.initial[f"{drug}_seen_status"] = seen[drug]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        decided = False
        for drug in DRUGS:
            decision = cleaned.get(f"{drug}_decision")
            if not decision:
                continue
            decided = True
            if decision != PhysicianDecision.OVERRIDE:
                continue
            reason = (cleaned.get(f"{drug}_override_reason") or "").strip()
            final = cleaned.get(f"{drug}_final_status")
            if not reason:
                self.add_error(f"{drug}_override_reason", "An override needs a reason.")
            if not final:
                self.add_error(f"{drug}_final_status", "Choose the status you decide on.")
            elif final == cleaned.get(f"{drug}_seen_status"):
                self.add_error(
                    f"{drug}_final_status",
                    "That is the engine's own recommendation: accept it instead of overriding.",
                )
            elif cleaned.get(f"{drug}_seen_status") == "not_eligible" and final == "eligible":
                self.add_error(
                    f"{drug}_final_status",
                    "An absolute contraindication cannot be overridden to plain 'eligible': "
                    "choose 'eligible with cautions' so it stays visible as a caution.",
                )
        if not decided:
            raise forms.ValidationError("Accept or override the recommendation for a drug.")
        return cleaned

    def choices(self) -> list[DrugDecision]:
        """The service's input: one decision per drug decided now."""
        c = self.cleaned_data
        return [
            DrugDecision(
                drug=drug,
                decision=c[f"{drug}_decision"],
                final_status=c.get(f"{drug}_final_status") or "",
                override_reason=c.get(f"{drug}_override_reason") or "",
                seen_engine_status=c.get(f"{drug}_seen_status") or "",
            )
            for drug in DRUGS
            if c.get(f"{drug}_decision")
        ]


class CosignEligibilityForm(forms.Form):
    """A second physician co-signs the override of an absolute contraindication."""

    note = forms.CharField(
        max_length=1000,
        label="Why you agree with the override (you are the second physician)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    expected_version = version_field()

    def clean_note(self) -> str:
        note: str = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Say why you agree with the override.")
        return note


class ResolveChecklistForm(forms.Form):
    note = forms.CharField(
        max_length=1000,
        label="What was obtained (or why the item no longer applies)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    expected_version = version_field()

    def clean_note(self) -> str:
        note: str = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Say what was obtained.")
        return note
