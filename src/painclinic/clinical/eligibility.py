"""Eligibility and contraindications for ketamine and for lidocaine, from patient facts.

Facts JSON (every top-level key required; unknown keys are errors)::

    {
      "age_years": 54,
      "weight_kg": 72.5,                       # or null
      "diagnosis": {"condition": "crps_1",     # id from conditions.json
                    "criteria": {"instrument": "budapest", "met": true},  # or null
                    "clinician_confirmed": null,   # optional: the clinician's diagnosis
                    "findings": {}},               # optional: the condition's own facts,
                                                   # e.g. {"months_since_rash": 4} for PHN
      "prior_treatments": [
        {"treatment": "gabapentin",            # lower-case generic name or therapy id
         "max_daily_dose_mg": 1800,            # null for non-drug therapy / unknown
         "duration_weeks": 8,                  # null if unknown
         "outcome": "no_relief",               # see OUTCOMES
         "total_dose_mg": null,                # infusions only (ketamine/lidocaine)
         "infusion_duration_h": null}          # infusions only
      ],
      "comorbidities": {"seizure_disorder": false, ...},  # COMORBIDITIES flags; absent = false
      "current_medications": ["Cymbalta 60 mg daily"],  # free text, one line each, or
                                               # {"text": ..., "ingredients": [...]} (coded)
      "vitals": {"systolic_bp_mmhg": 128, "diastolic_bp_mmhg": 80, "heart_rate_bpm": 72},
      "pregnancy": "not_pregnant",             # pregnant | not_pregnant | not_applicable | unknown
      "substance_use": {"active_substance_use_disorder": false,
                        "history_substance_use_disorder": false},
      "psychiatric": {"poorly_controlled_psychosis": false, "self_harm_risk": false,
                      "history_psychosis_or_mania": false},  # the last one optional
      "ecg": null | {"conduction_block": false, "atrial_fibrillation": false,
                     "qrs_widening": false, "pr_prolongation": false,
                     "pre_excitation": false},  # the last one optional
      "labs": {"liver_tests_on_file": false},
      "other_local_anaesthetic_within_4h": false
    }

Every reason carries a rule id and source keys. Rule wording, category (absolute or relative
for contraindications), parameters and on/off live in ``eligibility_rules.json``; interactions
in ``interactions.json`` (matched on coded ingredients or drug classes from
``medications.json``: a line that is not recognised is reported, never ignored); first-line
options, diagnostic facts and adequacy in ``conditions.json``. Every reason carries its
evidence (published, secondary, unconfirmed or clinic policy, from the weakest source it
cites); anything but published is clinic-configurable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import (
    as_bool,
    as_list,
    as_mapping,
    as_number,
    as_str,
    check_keys,
    join,
)
from painclinic.clinical.conditions import (
    Condition,
    ConditionsCatalogue,
    check_sources,
    load_conditions,
)
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.medications import (
    CodedMedication,
    MedicationVocabulary,
    code_medication,
    describe,
    load_medications,
)
from painclinic.clinical.outcomes import load_responder_policy
from painclinic.clinical.policy import load_policy
from painclinic.clinical.sources import SOURCES, Evidence

DRUGS = ("ketamine", "lidocaine")
OUTCOMES = (
    "no_relief",
    "partial_relief",
    "good_relief",
    "not_tolerated",
    "contraindicated",
    "ongoing",
    "unknown",
)
TRIED_REGARDLESS_OF_DOSE = frozenset({"not_tolerated", "contraindicated"})
PREGNANCY = ("pregnant", "not_pregnant", "not_applicable", "unknown")
COMORBIDITIES = (
    "poorly_controlled_cardiovascular_disease",
    "cardiac_risk_factors",
    "severe_hepatic_impairment",
    "moderate_hepatic_impairment",
    "severe_renal_impairment",
    "raised_intracranial_pressure",
    "raised_intraocular_pressure",
    "seizure_disorder",
    "reduced_consciousness",
    "atrial_fibrillation",
    "conduction_block",
    "stokes_adams_attacks",
    "pacemaker",
    "amide_local_anaesthetic_allergy",
    "heart_failure",
    "recent_myocardial_infarction",
    "pulmonary_disease",
    "sick_sinus_or_av_node_dysfunction",
    "hypercarbia_or_acidosis",
    "unstable_angina",
    "stroke",
    "aneurysm",
    "ketamine_hypersensitivity",
    "untreated_hyperthyroidism",
    "pre_excitation",
)
ECG_FINDINGS = ("conduction_block", "atrial_fibrillation", "qrs_widening", "pr_prolongation")
OPTIONAL_ECG_FINDINGS = ("pre_excitation",)
CONDUCTION_DISEASE = (
    "conduction_block",
    "stokes_adams_attacks",
    "sick_sinus_or_av_node_dysfunction",
)
FACT_KEYS = (
    "age_years",
    "weight_kg",
    "diagnosis",
    "prior_treatments",
    "comorbidities",
    "current_medications",
    "vitals",
    "pregnancy",
    "substance_use",
    "psychiatric",
    "ecg",
    "labs",
    "other_local_anaesthetic_within_4h",
)
VITAL_KEYS = (
    "systolic_bp_mmhg",
    "diastolic_bp_mmhg",
    "heart_rate_bpm",
    "respiratory_rate_per_min",
    "spo2_percent",
)


class Category(StrEnum):
    ABSOLUTE = "absolute"
    RELATIVE = "relative"
    MISSING = "missing"
    STEPPED_CARE = "stepped_care"


class Status(StrEnum):
    ELIGIBLE = "eligible"
    ELIGIBLE_WITH_CAUTIONS = "eligible_with_cautions"
    NOT_ELIGIBLE = "not_eligible"


# --- facts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriorTreatment:
    treatment: str
    max_daily_dose_mg: float | None
    duration_weeks: float | None
    outcome: str
    total_dose_mg: float | None
    infusion_duration_h: float | None


@dataclass(frozen=True)
class Facts:
    age_years: float
    weight_kg: float | None
    condition: str
    criteria_instrument: str | None
    criteria_met: bool | None
    criteria_screening: bool
    clinician_confirmed: bool | None
    findings: Mapping[str, Any]
    prior_treatments: tuple[PriorTreatment, ...]
    comorbidities: frozenset[str]
    current_medications: tuple[CodedMedication, ...]
    vitals: Mapping[str, float | None]
    pregnancy: str
    active_substance_use_disorder: bool
    history_substance_use_disorder: bool
    poorly_controlled_psychosis: bool
    history_psychosis_or_mania: bool
    self_harm_risk: bool
    ecg: frozenset[str] | None
    liver_tests_on_file: bool
    other_local_anaesthetic_within_4h: bool


def _opt_number(value: object, path: str, lo: float = 0, hi: float | None = None) -> float | None:
    return None if value is None else as_number(value, path, lo=lo, hi=hi)


def _medication(
    value: object, path: str, vocabulary: MedicationVocabulary
) -> CodedMedication | None:
    """One line of the medication list: free text (coded here) or already coded."""
    if isinstance(value, str):
        return code_medication(value, vocabulary) if value.strip() else None
    data = as_mapping(value, path)
    check_keys(data, path, ["text"], ["ingredients"])
    coded = code_medication(as_str(data["text"], join(path, "text")), vocabulary)
    given = []
    for j, ing in enumerate(as_list(data.get("ingredients", []), join(path, "ingredients"))):
        name = as_str(ing, join(join(path, "ingredients"), j)).strip().lower()
        if name not in vocabulary.ingredients:
            raise ClinicalInputError(
                join(join(path, "ingredients"), j), f"{name!r} is not in the vocabulary"
            )
        given.append(name)
    if not given:
        return coded
    ingredients = tuple(dict.fromkeys((*coded.ingredients, *given)))
    return CodedMedication(
        coded.text, ingredients, vocabulary.classes_of(ingredients), coded.unrecognised_words
    )


def parse_facts(
    raw: object,
    catalogue: ConditionsCatalogue | None = None,
    vocabulary: MedicationVocabulary | None = None,
) -> Facts:
    """Validate the facts JSON (see module docstring); raises ClinicalInputError naming the item."""
    catalogue = catalogue or load_conditions()
    vocabulary = vocabulary or load_medications()
    data = as_mapping(raw, "")
    check_keys(data, "", FACT_KEYS)
    diag = as_mapping(data["diagnosis"], "diagnosis")
    check_keys(diag, "diagnosis", ["condition", "criteria"], ["clinician_confirmed", "findings"])
    condition = catalogue.get(
        as_str(diag["condition"], "diagnosis.condition"), "diagnosis.condition"
    )
    instrument: str | None = None
    met: bool | None = None
    if diag["criteria"] is not None:
        crit = as_mapping(diag["criteria"], "diagnosis.criteria")
        check_keys(crit, "diagnosis.criteria", ["instrument", "met"])
        instrument = as_str(
            crit["instrument"], "diagnosis.criteria.instrument", condition.diagnostic_criteria
        )
        met = None if crit["met"] is None else as_bool(crit["met"], "diagnosis.criteria.met")
    confirmed_raw = diag.get("clinician_confirmed")
    confirmed = (
        None if confirmed_raw is None else as_bool(confirmed_raw, "diagnosis.clinician_confirmed")
    )
    findings_raw = as_mapping(diag.get("findings") or {}, "diagnosis.findings")
    known_findings = {f.id: f for f in condition.diagnosis_facts}
    check_keys(findings_raw, "diagnosis.findings", [], list(known_findings))
    findings: dict[str, Any] = {}
    for key, value in findings_raw.items():
        fpath = join("diagnosis.findings", key)
        if value is None:
            findings[key] = None
        elif known_findings[key].kind == "min_value":
            findings[key] = as_number(value, fpath, lo=0)
        else:
            findings[key] = as_bool(value, fpath)

    treatments = []
    for i, t in enumerate(as_list(data["prior_treatments"], "prior_treatments")):
        path = join("prior_treatments", i)
        tm = as_mapping(t, path)
        check_keys(
            tm,
            path,
            ["treatment", "outcome"],
            ["max_daily_dose_mg", "duration_weeks", "total_dose_mg", "infusion_duration_h"],
        )
        treatments.append(
            PriorTreatment(
                as_str(tm["treatment"], join(path, "treatment")).strip().lower(),
                _opt_number(tm.get("max_daily_dose_mg"), join(path, "max_daily_dose_mg")),
                _opt_number(tm.get("duration_weeks"), join(path, "duration_weeks")),
                as_str(tm["outcome"], join(path, "outcome"), OUTCOMES),
                _opt_number(tm.get("total_dose_mg"), join(path, "total_dose_mg")),
                _opt_number(tm.get("infusion_duration_h"), join(path, "infusion_duration_h")),
            )
        )

    com = as_mapping(data["comorbidities"], "comorbidities")
    check_keys(com, "comorbidities", [], COMORBIDITIES)
    comorbidities = frozenset(k for k in com if as_bool(com[k], join("comorbidities", k)))

    meds = tuple(
        coded
        for i, m in enumerate(as_list(data["current_medications"], "current_medications"))
        if (coded := _medication(m, join("current_medications", i), vocabulary)) is not None
    )
    vitals_raw = as_mapping(data["vitals"], "vitals")
    check_keys(vitals_raw, "vitals", [], VITAL_KEYS)
    vitals = {k: _opt_number(vitals_raw.get(k), join("vitals", k)) for k in VITAL_KEYS}

    su = as_mapping(data["substance_use"], "substance_use")
    su_keys = ["active_substance_use_disorder", "history_substance_use_disorder"]
    check_keys(su, "substance_use", su_keys)
    psych = as_mapping(data["psychiatric"], "psychiatric")
    check_keys(
        psych,
        "psychiatric",
        ["poorly_controlled_psychosis", "self_harm_risk"],
        ["history_psychosis_or_mania"],
    )

    ecg: frozenset[str] | None = None
    if data["ecg"] is not None:
        ecg_raw = as_mapping(data["ecg"], "ecg")
        check_keys(ecg_raw, "ecg", ECG_FINDINGS, OPTIONAL_ECG_FINDINGS)
        ecg = frozenset(
            k
            for k in (*ECG_FINDINGS, *OPTIONAL_ECG_FINDINGS)
            if as_bool(ecg_raw.get(k, False), join("ecg", k))
        )
    labs = as_mapping(data["labs"], "labs")
    check_keys(labs, "labs", ["liver_tests_on_file"])

    weight = _opt_number(data["weight_kg"], "weight_kg", lo=0.5, hi=400)
    return Facts(
        age_years=as_number(data["age_years"], "age_years", lo=0, hi=130),
        weight_kg=weight,
        condition=condition.id,
        criteria_instrument=instrument,
        criteria_met=met,
        criteria_screening=catalogue.is_screening(instrument),
        clinician_confirmed=confirmed,
        findings=findings,
        prior_treatments=tuple(treatments),
        comorbidities=comorbidities,
        current_medications=meds,
        vitals=vitals,
        pregnancy=as_str(data["pregnancy"], "pregnancy", PREGNANCY),
        active_substance_use_disorder=as_bool(
            su["active_substance_use_disorder"], "substance_use.active_substance_use_disorder"
        ),
        history_substance_use_disorder=as_bool(
            su["history_substance_use_disorder"], "substance_use.history_substance_use_disorder"
        ),
        poorly_controlled_psychosis=as_bool(
            psych["poorly_controlled_psychosis"], "psychiatric.poorly_controlled_psychosis"
        ),
        history_psychosis_or_mania=as_bool(
            psych.get("history_psychosis_or_mania", False),
            "psychiatric.history_psychosis_or_mania",
        ),
        self_harm_risk=as_bool(psych["self_harm_risk"], "psychiatric.self_harm_risk"),
        ecg=ecg,
        liver_tests_on_file=as_bool(labs["liver_tests_on_file"], "labs.liver_tests_on_file"),
        other_local_anaesthetic_within_4h=as_bool(
            data["other_local_anaesthetic_within_4h"], "other_local_anaesthetic_within_4h"
        ),
    )


def facts_template() -> dict[str, Any]:
    """A facts skeleton with every key present (for the CLI and the docs)."""
    return {
        "age_years": 0,
        "weight_kg": None,
        "diagnosis": {
            "condition": "crps_1",
            "criteria": {"instrument": "budapest", "met": None},
            "clinician_confirmed": None,
            "findings": {},
        },
        "prior_treatments": [],
        "comorbidities": dict.fromkeys(COMORBIDITIES, False),
        "current_medications": [],
        "vitals": dict.fromkeys(VITAL_KEYS),
        "pregnancy": "unknown",
        "substance_use": {
            "active_substance_use_disorder": False,
            "history_substance_use_disorder": False,
        },
        "psychiatric": {
            "poorly_controlled_psychosis": False,
            "self_harm_risk": False,
            "history_psychosis_or_mania": False,
        },
        "ecg": None,
        "labs": {"liver_tests_on_file": False},
        "other_local_anaesthetic_within_4h": False,
    }


# --- rules ----------------------------------------------------------------------------------


EVIDENCE_LABELS = {
    Evidence.CONFIRMED: "published",
    Evidence.SECONDARY: "secondary",
    Evidence.UNCONFIRMED: "unconfirmed",
    Evidence.POLICY: "clinic_policy",
}
_EVIDENCE_ORDER = (Evidence.POLICY, Evidence.UNCONFIRMED, Evidence.SECONDARY, Evidence.CONFIRMED)


EVIDENCE_VALUES = tuple(EVIDENCE_LABELS.values())


def evidence_of(sources: tuple[str, ...], stated: str | None = None) -> str:
    """The weakest evidence among ``sources`` (and the rule's own ``stated`` evidence, which
    can only weaken it): "published" (every source checked [S]), "secondary" [S2],
    "unconfirmed" [U] or "clinic_policy". Anything but "published" must stay
    clinic-configurable (it lives in a clinic-editable data file)."""
    levels = [SOURCES[k].evidence for k in sources]
    if stated is not None:
        levels.append(next(e for e, label in EVIDENCE_LABELS.items() if label == stated))
    worst = min(levels, key=_EVIDENCE_ORDER.index)
    return EVIDENCE_LABELS[worst]


@dataclass(frozen=True)
class Rule:
    id: str
    drug: str
    category: Category
    enabled: bool
    message: str
    sources: tuple[str, ...]
    note: str
    parameters: Mapping[str, float]
    parameter_sources: tuple[str, ...] = ()
    stated_evidence: str | None = None

    @property
    def evidence(self) -> str:
        return evidence_of(self.sources + self.parameter_sources, self.stated_evidence)


@dataclass(frozen=True)
class Interaction:
    id: str
    drug: str
    severity: Category
    ingredients: frozenset[str]
    classes: frozenset[str]
    message: str
    mechanism: str
    sources: tuple[str, ...]
    note: str
    stated_evidence: str | None = None

    @property
    def evidence(self) -> str:
        return evidence_of(self.sources, self.stated_evidence)

    def matches(
        self, drug: str, med: CodedMedication, vocabulary: MedicationVocabulary
    ) -> list[str]:
        """The ingredients of ``med`` this interaction names, directly or by class (the drug
        being assessed never interacts with itself through its own class)."""
        return [
            ing
            for ing in med.ingredients
            if ing in self.ingredients
            or (ing != drug and vocabulary.ingredients[ing].classes & self.classes)
        ]


@dataclass(frozen=True)
class EligibilityPolicy:
    version: str
    interactions_version: str
    rules: Mapping[str, Rule]
    interactions: tuple[Interaction, ...]
    catalogue: ConditionsCatalogue
    vocabulary: MedicationVocabulary
    ketamine_trial_min_total_mg: float
    ketamine_trial_min_duration_h: float


@dataclass(frozen=True)
class Reason:
    rule_id: str
    category: str
    message: str
    sources: tuple[str, ...]
    detail: str = ""
    evidence: str = ""

    @property
    def clinic_configurable(self) -> bool:
        return self.evidence != "published"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "category": self.category,
            "message": self.message,
            "detail": self.detail,
            "sources": list(self.sources),
            "evidence": self.evidence,
            "clinic_configurable": self.clinic_configurable,
        }


@dataclass(frozen=True)
class SteppedCareGap:
    rule_id: str
    option_id: str
    option: str
    detail: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "option_id": self.option_id,
            "option": self.option,
            "detail": self.detail,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class DrugEligibility:
    drug: str
    status: Status
    absolute_contraindications: tuple[Reason, ...] = ()
    relative_contraindications: tuple[Reason, ...] = ()
    missing_information: tuple[Reason, ...] = ()
    stepped_care_gaps: tuple[SteppedCareGap, ...] = ()
    interactions: tuple[Reason, ...] = ()

    @property
    def rule_ids(self) -> set[str]:
        groups: tuple[tuple[Reason | SteppedCareGap, ...], ...] = (
            self.absolute_contraindications,
            self.relative_contraindications,
            self.missing_information,
            self.stepped_care_gaps,
            self.interactions,
        )
        return {r.rule_id for group in groups for r in group}

    def to_dict(self) -> dict[str, Any]:
        return {
            "drug": self.drug,
            "status": self.status.value,
            "absolute_contraindications": [r.to_dict() for r in self.absolute_contraindications],
            "relative_contraindications": [r.to_dict() for r in self.relative_contraindications],
            "missing_information": [r.to_dict() for r in self.missing_information],
            "stepped_care_gaps": [g.to_dict() for g in self.stepped_care_gaps],
            "interactions": [r.to_dict() for r in self.interactions],
        }


@dataclass(frozen=True)
class EligibilityResult:
    condition: str
    ketamine: DrugEligibility
    lidocaine: DrugEligibility
    policy_versions: Mapping[str, str] = field(default_factory=dict)
    medications: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "ketamine": self.ketamine.to_dict(),
            "lidocaine": self.lidocaine.to_dict(),
            "medications": [dict(m) for m in self.medications],
            "policy_versions": dict(self.policy_versions),
        }


Check = Callable[[Facts, Rule, Condition], str | None]
"""A rule's predicate: returns a detail string when the rule fires, None otherwise."""


def _flag(*names: str) -> Check:
    def check(facts: Facts, rule: Rule, condition: Condition) -> str | None:
        hits = [n for n in names if n in facts.comorbidities]
        return ", ".join(hits) if hits else None

    return check


def _ket_vitals(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    hits = []
    sbp = facts.vitals.get("systolic_bp_mmhg")
    dbp = facts.vitals.get("diastolic_bp_mmhg")
    hr = facts.vitals.get("heart_rate_bpm")
    if sbp is not None and sbp > rule.parameters["max_systolic_bp_mmhg"]:
        hits.append(f"systolic {sbp:g} > {rule.parameters['max_systolic_bp_mmhg']:g} mmHg")
    if dbp is not None and dbp > rule.parameters["max_diastolic_bp_mmhg"]:
        hits.append(f"diastolic {dbp:g} > {rule.parameters['max_diastolic_bp_mmhg']:g} mmHg")
    if hr is not None and hr > rule.parameters["max_heart_rate_bpm"]:
        hits.append(f"heart rate {hr:g} > {rule.parameters['max_heart_rate_bpm']:g}/min")
    return "; ".join(hits) or None


def _tachycardia(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    hr = facts.vitals.get("heart_rate_bpm")
    limit = rule.parameters["max_resting_heart_rate_bpm"]
    return f"resting heart rate {hr:g} > {limit:g}/min" if hr is not None and hr > limit else None


def _under_age(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    limit = rule.parameters["min_age_years"]
    return f"age {facts.age_years:g} < {limit:g}" if facts.age_years < limit else None


def _criteria_not_met(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    """Diagnostic criteria (Budapest, ACR 2016) not met: the diagnosis is not established."""
    if facts.criteria_met is False and not facts.criteria_screening:
        return f"{facts.criteria_instrument} criteria not met for {condition.name}"
    return None


def _screening_below_cutoff(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    """A screening tool (DN4, LANSS) below its cut-off lowers confidence; the clinician's
    diagnosis decides (never an absolute contraindication on its own)."""
    if facts.criteria_met is False and facts.criteria_screening:
        if facts.clinician_confirmed:
            return (
                f"{facts.criteria_instrument} below its cut-off; the clinician confirmed "
                f"{condition.name}"
            )
        return f"{facts.criteria_instrument} below its cut-off: record the clinician's diagnosis"
    return None


def _clinician_diagnosis_missing(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    if (
        facts.criteria_met is False
        and facts.criteria_screening
        and facts.clinician_confirmed is None
    ):
        return f"{facts.criteria_instrument} below its cut-off and no clinician's diagnosis"
    return None


def _clinician_disagrees(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    if facts.clinician_confirmed is False:
        return f"the clinician did not confirm {condition.name}"
    return None


def _criteria_missing(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    if facts.criteria_met is None and not facts.clinician_confirmed:
        return f"record one of: {', '.join(condition.diagnostic_criteria)}"
    return None


def _diagnosis_facts_contradict(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    hits = []
    for fact in condition.diagnosis_facts:
        value = facts.findings.get(fact.id)
        if value is None:
            continue
        if fact.kind == "min_value" and fact.value is not None and value < fact.value:
            hits.append(f"{fact.label}: {value:g} < {fact.value:g} {fact.unit}".strip())
        elif fact.kind == "required_true" and value is False:
            hits.append(f"{fact.label}: no")
    return "; ".join(hits) or None


def _diagnosis_facts_missing(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    missing = [f.label for f in condition.diagnosis_facts if facts.findings.get(f.id) is None]
    return "record: " + "; ".join(missing) if missing else None


def _unrecognised_medications(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    bad = [m for m in facts.current_medications if not m.recognised]
    if not bad:
        return None
    parts = []
    for m in bad:
        if m.ingredients:
            parts.append(f'"{m.text}" (not recognised: {" ".join(m.unrecognised_words)})')
        else:
            parts.append(f'"{m.text}"')
    return "not recognised, check by hand: " + "; ".join(parts)


def _psychosis_history(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    return "history of psychosis or mania" if facts.history_psychosis_or_mania else None


def _ket_liver_missing(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    """Liver tests before ketamine when liver disease is known, and before a repeat series
    (any earlier ketamine infusion recorded): Noppers 2011 [S2]."""
    if facts.liver_tests_on_file:
        return None
    reasons = sorted(
        {"moderate_hepatic_impairment", "severe_hepatic_impairment"} & facts.comorbidities
    )
    earlier = [t for t in facts.prior_treatments if t.treatment == "ketamine"]
    if earlier:
        total = sum(t.total_dose_mg or 0 for t in earlier)
        reasons.append(
            f"repeat ketamine series ({len(earlier)} earlier infusion record(s)"
            + (f", {total:g} mg recorded" if total else "")
            + ")"
        )
    return ", ".join(reasons) or None


def _weak_evidence(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    ev = condition.ketamine_evidence
    return f"{ev.grade}: {ev.summary}" if ev.grade in ("weak", "none") else None


def _pregnant(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    return "pregnant" if facts.pregnancy == "pregnant" else None


def _pregnancy_unknown(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    return "record pregnancy status" if facts.pregnancy == "unknown" else None


def _ket_ecg_missing(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    if facts.ecg is None and "cardiac_risk_factors" in facts.comorbidities:
        return "cardiac_risk_factors and no ECG"
    return None


def _ket_vitals_missing(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    missing = [k for k in ("systolic_bp_mmhg", "heart_rate_bpm") if facts.vitals.get(k) is None]
    return ", ".join(missing) or None


def _conduction_disease(facts: Facts) -> list[str]:
    hits = [n for n in CONDUCTION_DISEASE if n in facts.comorbidities]
    if facts.ecg and "conduction_block" in facts.ecg:
        hits.append("ECG conduction_block")
    return hits


def _lid_arrhythmia(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    """Arrhythmia (AF), and conduction disease without a pacemaker: absolute."""
    hits: list[str] = []
    if "atrial_fibrillation" in facts.comorbidities:
        hits.append("atrial_fibrillation")
    if facts.ecg and "atrial_fibrillation" in facts.ecg:
        hits.append("ECG atrial_fibrillation")
    if "pacemaker" not in facts.comorbidities:
        hits += [f"{h} without a pacemaker" for h in _conduction_disease(facts)]
    return ", ".join(hits) or None


def _lid_paced_conduction(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    """Conduction disease with a pacemaker: relative."""
    if "pacemaker" not in facts.comorbidities:
        return None
    hits = _conduction_disease(facts)
    return "pacemaker" + (f" ({', '.join(hits)})" if hits else "")


def _lid_pre_excitation(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    hits = []
    if "pre_excitation" in facts.comorbidities:
        hits.append("pre-excitation (WPW)")
    if facts.ecg and "pre_excitation" in facts.ecg:
        hits.append("ECG pre-excitation")
    return ", ".join(hits) or None


def _lid_other_la(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    return "other local anaesthetic within 4 h" if facts.other_local_anaesthetic_within_4h else None


def _lid_min_weight(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    limit = rule.parameters["min_weight_kg"]
    if facts.weight_kg is not None and facts.weight_kg < limit:
        return f"weight {facts.weight_kg:g} kg < {limit:g} kg"
    return None


def _lid_age(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    limit = rule.parameters["older_age_years"]
    return f"age {facts.age_years:g} >= {limit:g}" if facts.age_years >= limit else None


def _lid_ecg_signs(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    if not facts.ecg:
        return None
    hits = [n for n in ("qrs_widening", "pr_prolongation") if n in facts.ecg]
    return ", ".join(hits) or None


def _lid_ecg_missing(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    return "no ECG on file" if facts.ecg is None else None


def _lid_weight_missing(facts: Facts, rule: Rule, condition: Condition) -> str | None:
    return "weight_kg is null" if facts.weight_kg is None else None


CHECKS: dict[str, Check] = {
    "KET-CI-001": _flag(
        "poorly_controlled_cardiovascular_disease",
        "recent_myocardial_infarction",
        "heart_failure",
        "unstable_angina",
        "stroke",
        "aneurysm",
    ),
    "KET-CI-002": lambda f, r, c: (
        "poorly controlled psychosis" if f.poorly_controlled_psychosis else None
    ),
    "KET-CI-003": _flag("severe_hepatic_impairment"),
    "KET-CI-004": _flag("raised_intracranial_pressure"),
    "KET-CI-005": _flag("raised_intraocular_pressure"),
    "KET-CI-006": _pregnant,
    "KET-CI-007": _ket_vitals,
    "KET-CI-008": _psychosis_history,
    "KET-CI-009": _flag("ketamine_hypersensitivity"),
    "KET-CI-010": _flag("untreated_hyperthyroidism"),
    "KET-CI-011": _under_age,
    "KET-DX-001": _criteria_not_met,
    "KET-DX-002": _screening_below_cutoff,
    "KET-DX-003": _diagnosis_facts_contradict,
    "KET-DX-004": _clinician_disagrees,
    "KET-REL-001": _flag("moderate_hepatic_impairment"),
    "KET-REL-002": lambda f, r, c: "active" if f.active_substance_use_disorder else None,
    "KET-REL-003": lambda f, r, c: "history" if f.history_substance_use_disorder else None,
    "KET-REL-004": _weak_evidence,
    "KET-REL-005": lambda f, r, c: "self-harm risk recorded" if f.self_harm_risk else None,
    "KET-REL-006": _tachycardia,
    "KET-MISS-001": _ket_ecg_missing,
    "KET-MISS-002": _ket_liver_missing,
    "KET-MISS-003": _pregnancy_unknown,
    "KET-MISS-004": _criteria_missing,
    "KET-MISS-005": _ket_vitals_missing,
    "KET-MISS-006": _unrecognised_medications,
    "KET-MISS-007": _diagnosis_facts_missing,
    "KET-MISS-008": _clinician_diagnosis_missing,
    "LID-CI-001": _flag("amide_local_anaesthetic_allergy"),
    "LID-CI-002": _lid_arrhythmia,
    "LID-CI-003": _flag("poorly_controlled_cardiovascular_disease"),
    "LID-CI-004": _flag("severe_renal_impairment"),
    "LID-CI-005": _flag("severe_hepatic_impairment"),
    "LID-CI-006": _flag("reduced_consciousness"),
    "LID-CI-007": _flag("seizure_disorder"),
    "LID-CI-008": _pregnant,
    "LID-CI-009": _lid_other_la,
    "LID-CI-010": _lid_min_weight,
    "LID-CI-011": _under_age,
    "LID-CI-012": _lid_pre_excitation,
    "LID-DX-001": _criteria_not_met,
    "LID-DX-002": _screening_below_cutoff,
    "LID-DX-003": _diagnosis_facts_contradict,
    "LID-DX-004": _clinician_disagrees,
    "LID-REL-001": _flag(
        "heart_failure",
        "recent_myocardial_infarction",
        "moderate_hepatic_impairment",
        "pulmonary_disease",
        "sick_sinus_or_av_node_dysfunction",
        "hypercarbia_or_acidosis",
    ),
    "LID-REL-002": _lid_age,
    "LID-REL-003": _lid_ecg_signs,
    "LID-REL-004": _lid_paced_conduction,
    "LID-MISS-001": _lid_ecg_missing,
    "LID-MISS-002": _pregnancy_unknown,
    "LID-MISS-003": _lid_weight_missing,
    "LID-MISS-004": _unrecognised_medications,
    "LID-MISS-005": _diagnosis_facts_missing,
    "LID-MISS-006": _clinician_diagnosis_missing,
    "LID-MISS-007": _criteria_missing,
}
STEP_RULES = {"ketamine": "KET-STEP-001", "lidocaine": "LID-STEP-001"}
KETAMINE_PATHWAY_RULE = "LID-STEP-002"
CONTRAINDICATION_CATEGORIES = (Category.ABSOLUTE, Category.RELATIVE)


def _rule_category(rule_id: str) -> tuple[Category, ...]:
    if "-CI-" in rule_id or "-REL-" in rule_id or "-DX-" in rule_id:
        return CONTRAINDICATION_CATEGORIES
    if "-MISS-" in rule_id:
        return (Category.MISSING,)
    return (Category.STEPPED_CARE,)


def load_eligibility_policy(policy_dir: str | Path | None = None) -> EligibilityPolicy:
    """Load and validate eligibility_rules.json, interactions.json and conditions.json."""
    raw = load_policy("eligibility_rules.json", policy_dir)
    check_keys(raw, "", ["version", "rules", "_origin"], ["description"])
    rules: dict[str, Rule] = {}
    for i, entry in enumerate(as_list(raw["rules"], "rules")):
        path = join("rules", i)
        data = as_mapping(entry, path)
        check_keys(
            data,
            path,
            ["id", "drug", "category", "enabled", "message", "sources", "note"],
            ["parameters", "evidence"],
        )
        rid = as_str(data["id"], join(path, "id"))
        if rid not in CHECKS and rid not in STEP_RULES.values() and rid != KETAMINE_PATHWAY_RULE:
            raise ClinicalInputError(join(path, "id"), f"no code implements rule {rid!r}")
        allowed = [c.value for c in _rule_category(rid)]
        params: dict[str, float] = {}
        param_sources: list[str] = []
        for name, spec in as_mapping(data.get("parameters", {}), join(path, "parameters")).items():
            ppath = join(join(path, "parameters"), name)
            sm = as_mapping(spec, ppath)
            check_keys(sm, ppath, ["value", "sources", "note"])
            param_sources += check_sources(sm["sources"], join(ppath, "sources"))
            params[name] = as_number(sm["value"], join(ppath, "value"))
        rules[rid] = Rule(
            id=rid,
            drug=as_str(data["drug"], join(path, "drug"), DRUGS),
            category=Category(as_str(data["category"], join(path, "category"), allowed)),
            enabled=as_bool(data["enabled"], join(path, "enabled")),
            message=as_str(data["message"], join(path, "message")),
            sources=check_sources(data["sources"], join(path, "sources")),
            note=as_str(data["note"], join(path, "note")),
            parameters=params,
            parameter_sources=tuple(dict.fromkeys(param_sources)),
            stated_evidence=(
                as_str(data["evidence"], join(path, "evidence"), EVIDENCE_VALUES)
                if "evidence" in data
                else None
            ),
        )
    expected = set(CHECKS) | set(STEP_RULES.values()) | {KETAMINE_PATHWAY_RULE}
    missing = sorted(expected - set(rules))
    if missing:
        raise ClinicalInputError("rules", f"rules missing from policy (disable instead): {missing}")

    vocabulary = load_medications(policy_dir)
    ix_raw = load_policy("interactions.json", policy_dir)
    check_keys(ix_raw, "", ["version", "interactions", "_origin"], ["description"])
    interactions = []
    for i, entry in enumerate(as_list(ix_raw["interactions"], "interactions")):
        path = join("interactions", i)
        data = as_mapping(entry, path)
        keys = ["id", "drug", "severity", "interacting", "message", "mechanism", "sources", "note"]
        check_keys(data, path, keys, ["evidence"])
        ipath = join(path, "interacting")
        if isinstance(data["interacting"], list):  # a plain list names ingredients
            inter: Mapping[str, Any] = {"ingredients": data["interacting"], "classes": []}
        else:
            inter = as_mapping(data["interacting"], ipath)
            check_keys(inter, ipath, [], ["ingredients", "classes"])
        names = frozenset(
            as_str(m, join(join(ipath, "ingredients"), j)).lower()
            for j, m in enumerate(as_list(inter.get("ingredients", []), ipath))
        )
        classes = frozenset(
            as_str(m, join(join(ipath, "classes"), j))
            for j, m in enumerate(as_list(inter.get("classes", []), ipath))
        )
        unknown = sorted(names - set(vocabulary.ingredients))
        if unknown:
            raise ClinicalInputError(ipath, f"not in medications.json: {unknown}")
        unknown = sorted(classes - set(vocabulary.class_names))
        if unknown:
            raise ClinicalInputError(ipath, f"unknown drug class(es): {unknown}")
        if not names and not classes:
            raise ClinicalInputError(ipath, "name at least one ingredient or class")
        interactions.append(
            Interaction(
                id=as_str(data["id"], join(path, "id")),
                drug=as_str(data["drug"], join(path, "drug"), DRUGS),
                severity=Category(
                    as_str(data["severity"], join(path, "severity"), ("absolute", "relative"))
                ),
                ingredients=names,
                classes=classes,
                message=as_str(data["message"], join(path, "message")),
                mechanism=as_str(data["mechanism"], join(path, "mechanism")),
                sources=check_sources(data["sources"], join(path, "sources")),
                note=as_str(data["note"], join(path, "note")),
                stated_evidence=(
                    as_str(data["evidence"], join(path, "evidence"), EVIDENCE_VALUES)
                    if "evidence" in data
                    else None
                ),
            )
        )
    responder = load_responder_policy(policy_dir)
    return EligibilityPolicy(
        raw["version"],
        ix_raw["version"],
        rules,
        tuple(interactions),
        load_conditions(policy_dir),
        vocabulary,
        responder.adequate_ketamine_trial_min_total_mg,
        responder.adequate_ketamine_trial_min_duration_h,
    )


# --- stepped care ---------------------------------------------------------------------------


def _adequacy(
    treatment: PriorTreatment, min_dose: float | None, min_weeks: float
) -> tuple[bool, str]:
    if treatment.outcome in TRIED_REGARDLESS_OF_DOSE:
        return True, f"{treatment.treatment} {treatment.outcome.replace('_', ' ')}"
    problems = []
    if min_dose is not None:
        if treatment.max_daily_dose_mg is None:
            problems.append("dose not recorded")
        elif treatment.max_daily_dose_mg < min_dose:
            problems.append(f"{treatment.max_daily_dose_mg:g} mg/day < {min_dose:g} mg/day")
    if treatment.duration_weeks is None:
        problems.append("duration not recorded")
    elif treatment.duration_weeks < min_weeks:
        problems.append(f"{treatment.duration_weeks:g} weeks < {min_weeks:g} weeks")
    if problems:
        return False, f"{treatment.treatment}: " + ", ".join(problems)
    return True, f"{treatment.treatment} adequately tried"


def stepped_care_gaps(
    facts: Facts, condition: Condition, min_weeks: float, rule: Rule
) -> list[SteppedCareGap]:
    gaps = []
    for option in condition.first_line:
        notes: list[str] = []
        adequate = False
        for agent in option.agents:
            for t in facts.prior_treatments:
                if t.treatment != agent.drug:
                    continue
                ok, note = _adequacy(t, agent.min_daily_dose_mg, min_weeks)
                adequate = adequate or ok
                notes.append(note)
        if not adequate:
            detail = "; ".join(notes) if notes else "not tried"
            gaps.append(
                SteppedCareGap(
                    rule.id, option.id, option.name, detail, rule.sources + option.sources
                )
            )
    return gaps


def adequate_ketamine_trial(treatment: PriorTreatment, policy: EligibilityPolicy) -> bool:
    """2018 consensus grade C [S2]: a single infusion of >=80 mg over more than 2 h
    (numbers from responder_policy.json)."""
    if treatment.treatment != "ketamine":
        return False
    if treatment.outcome in TRIED_REGARDLESS_OF_DOSE:
        return True
    return (
        treatment.total_dose_mg is not None
        and treatment.infusion_duration_h is not None
        and treatment.total_dose_mg >= policy.ketamine_trial_min_total_mg
        and treatment.infusion_duration_h > policy.ketamine_trial_min_duration_h
    )


# --- assessment -----------------------------------------------------------------------------


def screen_medications(
    drug: str, medications: tuple[CodedMedication, ...], policy: EligibilityPolicy
) -> list[Reason]:
    """Interactions of ``drug`` with coded medications, matched on ingredient or drug class;
    each reason's detail names the line as written and what it was recognised as."""
    out = []
    for ix in policy.interactions:
        if ix.drug != drug:
            continue
        details = []
        for med in medications:
            hits = ix.matches(drug, med, policy.vocabulary)
            if hits:
                details.append(f'"{med.text}" = {", ".join(hits)}')
        if details:
            out.append(
                Reason(
                    ix.id,
                    ix.severity.value,
                    ix.message,
                    ix.sources,
                    "; ".join(details),
                    ix.evidence,
                )
            )
    return out


def premedication_interactions(
    drug: str, premedication: list[str] | tuple[str, ...], policy: EligibilityPolicy | None = None
) -> list[Reason]:
    """Interactions of ``drug`` with a protocol's own premedication (e.g. midazolam with
    ketamine): the screen applies to what the clinic gives, not only to what the patient takes.
    Reasons only inform (the premedication is part of the protocol's design)."""
    policy = policy or load_eligibility_policy()
    meds = tuple(code_medication(p, policy.vocabulary) for p in premedication)
    return screen_medications(drug, meds, policy)


def _assess_drug(drug: str, facts: Facts, policy: EligibilityPolicy) -> DrugEligibility:
    condition = policy.catalogue.get(facts.condition)
    buckets: dict[Category, list[Reason]] = {c: [] for c in Category}
    for rule in policy.rules.values():
        if rule.drug != drug or not rule.enabled or rule.id not in CHECKS:
            continue
        detail = CHECKS[rule.id](facts, rule, condition)
        if detail is not None:
            reason = Reason(
                rule.id,
                rule.category.value,
                rule.message,
                rule.sources + rule.parameter_sources,
                detail,
                rule.evidence,
            )
            buckets[rule.category].append(reason)

    gaps: list[SteppedCareGap] = []
    step_rule = policy.rules[STEP_RULES[drug]]
    if step_rule.enabled:
        gaps = stepped_care_gaps(
            facts, condition, policy.catalogue.adequate_trial_min_weeks, step_rule
        )
    pathway = policy.rules[KETAMINE_PATHWAY_RULE]
    if (
        drug == "lidocaine"
        and pathway.enabled
        and not any(adequate_ketamine_trial(t, policy) for t in facts.prior_treatments)
    ):
        gaps.append(
            SteppedCareGap(
                pathway.id,
                "ketamine_trial",
                "Adequate ketamine infusion trial (>=80 mg over >2 h)",
                f"no ketamine infusion of >={policy.ketamine_trial_min_total_mg:g} mg over "
                f">{policy.ketamine_trial_min_duration_h:g} h recorded",
                pathway.sources,
            )
        )

    interactions = screen_medications(drug, facts.current_medications, policy)

    if buckets[Category.ABSOLUTE] or any(r.category == "absolute" for r in interactions):
        status = Status.NOT_ELIGIBLE
    elif buckets[Category.RELATIVE] or buckets[Category.MISSING] or gaps or interactions:
        status = Status.ELIGIBLE_WITH_CAUTIONS
    else:
        status = Status.ELIGIBLE
    return DrugEligibility(
        drug=drug,
        status=status,
        absolute_contraindications=tuple(buckets[Category.ABSOLUTE]),
        relative_contraindications=tuple(buckets[Category.RELATIVE]),
        missing_information=tuple(buckets[Category.MISSING]),
        stepped_care_gaps=tuple(gaps),
        interactions=tuple(interactions),
    )


def assess_eligibility(
    facts: Mapping[str, Any] | Facts,
    policy: EligibilityPolicy | None = None,
    policy_dir: str | Path | None = None,
) -> EligibilityResult:
    """Assess ketamine and lidocaine eligibility separately.

    Status: ``not_eligible`` if any absolute contraindication (or absolute interaction);
    ``eligible_with_cautions`` if any relative contraindication, interaction, missing
    information or stepped-care gap; otherwise ``eligible``. Missing information must be
    resolved before the first infusion.
    """
    policy = policy or load_eligibility_policy(policy_dir)
    parsed = (
        facts
        if isinstance(facts, Facts)
        else parse_facts(facts, policy.catalogue, policy.vocabulary)
    )
    return EligibilityResult(
        condition=parsed.condition,
        ketamine=_assess_drug("ketamine", parsed, policy),
        lidocaine=_assess_drug("lidocaine", parsed, policy),
        policy_versions={
            "eligibility_rules": policy.version,
            "interactions": policy.interactions_version,
            "conditions": policy.catalogue.version,
            "medications": policy.vocabulary.version,
        },
        medications=tuple(
            {**m.to_dict(), "recognised_as": describe(m, policy.vocabulary)}
            for m in parsed.current_medications
        ),
    )
