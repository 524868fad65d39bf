"""Monitoring during and after an infusion, and the home-discharge criteria.

Observation JSON (all keys optional, unknown keys are errors)::

    {"elapsed_min": 30, "systolic_bp_mmhg": 128, "diastolic_bp_mmhg": 78,
     "heart_rate_bpm": 76, "respiratory_rate_per_min": 14, "spo2_percent": 97,
     "rass": 0, "moaas": 5, "cadss6": 4, "symptoms": ["tinnitus"]}

Infusion JSON: ``{"drug": "ketamine" | "lidocaine", "rate_mg_per_h": 20,
"baseline": {"systolic_bp_mmhg": 120, "diastolic_bp_mmhg": 75, "heart_rate_bpm": 70},
"phase": "infusion" | "recovery"}`` (``baseline`` is the pre-infusion round; without it the
rules relative to the patient's own baseline cannot fire and the decision says so).

Rules, the symptom vocabulary and the discharge criteria are data
(``monitoring_thresholds.json``). The most severe action that fires wins: continue <
incomplete < reduce_rate < pause < stop_and_call_physician < emergency. A round that misses a
required measure is at least ``incomplete``: never ``continue``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import (
    as_bool,
    as_int,
    as_list,
    as_mapping,
    as_number,
    as_str,
    check_keys,
    join,
)
from painclinic.clinical.conditions import check_sources
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.policy import load_policy


class Action(StrEnum):
    CONTINUE = "continue"
    INCOMPLETE = "incomplete"
    REDUCE_RATE = "reduce_rate"
    PAUSE = "pause"
    STOP_AND_CALL_PHYSICIAN = "stop_and_call_physician"
    EMERGENCY = "emergency"

    @property
    def severity(self) -> int:
        return list(Action).index(self)


DRUGS = ("ketamine", "lidocaine")
NUMERIC_MEASURES: dict[str, tuple[float, float]] = {
    "systolic_bp_mmhg": (0, 350),
    "diastolic_bp_mmhg": (0, 250),
    "heart_rate_bpm": (0, 300),
    "respiratory_rate_per_min": (0, 80),
    "spo2_percent": (0, 100),
}
INTEGER_MEASURES: dict[str, tuple[int, int]] = {"rass": (-5, 4), "moaas": (0, 5), "cadss6": (0, 24)}
PHASES = ("infusion", "recovery")
BASELINE_MEASURES = ("systolic_bp_mmhg", "diastolic_bp_mmhg", "heart_rate_bpm")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class ThresholdRule:
    id: str
    measure: str
    comparison: str
    value: float
    action: Action
    drugs: frozenset[str]
    message: str
    sources: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class SymptomRule:
    id: str
    symptoms: frozenset[str]
    action: Action
    drugs: frozenset[str]
    message: str
    sources: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class BaselineRule:
    """Fires when ``measure`` is at or above ``baseline × (1 + rise_percent / 100)``."""

    id: str
    measure: str
    rise_percent: float
    action: Action
    drugs: frozenset[str]
    message: str
    sources: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Symptom:
    """One entry of the symptom vocabulary: the code, the words a nurse reads, and the other
    codes that mean the same symptom (recorded under ``id``)."""

    id: str
    label: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class PolicyValue:
    value: Any
    sources: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class RecoveryPolicy:
    min_recovery_min: dict[str, PolicyValue]
    dissociation_resolved_max_cadss6: PolicyValue
    dissociation_drugs: frozenset[str]
    escort_required: PolicyValue


@dataclass(frozen=True)
class MonitoringThresholds:
    version: str
    threshold_rules: tuple[ThresholdRule, ...]
    symptom_rules: tuple[SymptomRule, ...]
    baseline_rules: tuple[BaselineRule, ...] = ()
    symptoms: tuple[Symptom, ...] = ()
    required_measures: tuple[str, ...] = ()
    required_sedation: tuple[str, ...] = ()
    recovery: RecoveryPolicy | None = None

    @property
    def symptom_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.symptoms)

    def symptom_label(self, code: str) -> str:
        """The words for a symptom code (an alias reads as its symptom)."""
        canonical = self.canonical_symptom(code)
        for symptom in self.symptoms:
            if symptom.id == canonical:
                return symptom.label
        return code.replace("_", " ")

    def canonical_symptom(self, code: str) -> str:
        for symptom in self.symptoms:
            if code == symptom.id or code in symptom.aliases:
                return symptom.id
        return code


@dataclass(frozen=True)
class MonitoringReason:
    rule_id: str
    action: Action
    message: str
    detail: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "action": self.action.value,
            "message": self.message,
            "detail": self.detail,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class MonitoringDecision:
    action: Action
    reasons: tuple[MonitoringReason, ...]
    not_recorded: tuple[str, ...]
    thresholds_version: str
    phase: str = "infusion"
    baseline_used: bool = False

    @property
    def complete(self) -> bool:
        """Every required measure was recorded."""
        return not self.not_recorded

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "reasons": [r.to_dict() for r in self.reasons],
            "not_recorded": list(self.not_recorded),
            "complete": self.complete,
            "phase": self.phase,
            "baseline_used": self.baseline_used,
            "thresholds_version": self.thresholds_version,
        }


def _drugs(value: object, path: str) -> frozenset[str]:
    items = as_list(value, path)
    if not items:
        raise ClinicalInputError(path, "at least one drug")
    return frozenset(as_str(d, join(path, i), DRUGS) for i, d in enumerate(items))


def _symptoms(value: object, path: str) -> tuple[Symptom, ...]:
    out: list[Symptom] = []
    seen: set[str] = set()
    for i, entry in enumerate(as_list(value, path)):
        epath = join(path, i)
        d = as_mapping(entry, epath)
        check_keys(d, epath, ["id", "label"], ["aliases"])
        sid = as_str(d["id"], join(epath, "id"))
        aliases = tuple(
            as_str(a, join(join(epath, "aliases"), j))
            for j, a in enumerate(as_list(d.get("aliases", []), join(epath, "aliases")))
        )
        for code in (sid, *aliases):
            if code in seen:
                raise ClinicalInputError(epath, f"symptom code {code!r} appears twice")
            seen.add(code)
        out.append(Symptom(sid, as_str(d["label"], join(epath, "label")), aliases))
    if not out:
        raise ClinicalInputError(path, "the symptom vocabulary is empty")
    return tuple(out)


def _policy_value(value: object, path: str, extra: tuple[str, ...] = ()) -> PolicyValue:
    d = as_mapping(value, path)
    check_keys(d, path, ["value", "sources", "note"], extra)
    return PolicyValue(
        d["value"], check_sources(d["sources"], join(path, "sources")), as_str(d["note"], path)
    )


def _recovery(value: object, path: str) -> RecoveryPolicy:
    d = as_mapping(value, path)
    keys = ["min_recovery_min", "dissociation_resolved_max_cadss6", "escort_required"]
    check_keys(d, path, keys)
    mpath = join(path, "min_recovery_min")
    minutes = as_mapping(d["min_recovery_min"], mpath)
    check_keys(minutes, mpath, DRUGS)
    min_recovery: dict[str, PolicyValue] = {}
    for drug in DRUGS:
        pv = _policy_value(minutes[drug], join(mpath, drug))
        as_number(pv.value, join(join(mpath, drug), "value"), lo=0)
        min_recovery[drug] = pv
    dpath = join(path, "dissociation_resolved_max_cadss6")
    dissociation = _policy_value(d["dissociation_resolved_max_cadss6"], dpath, ("drugs",))
    as_int(dissociation.value, join(dpath, "value"), *INTEGER_MEASURES["cadss6"])
    drugs = _drugs(as_mapping(d["dissociation_resolved_max_cadss6"], dpath)["drugs"], dpath)
    escort = _policy_value(d["escort_required"], join(path, "escort_required"))
    as_bool(escort.value, join(join(path, "escort_required"), "value"))
    return RecoveryPolicy(min_recovery, dissociation, drugs, escort)


def load_thresholds(policy_dir: str | Path | None = None) -> MonitoringThresholds:
    """Read and check ``monitoring_thresholds.json`` (the clinic's copy if there is one).

    Besides the types, it checks that every symptom a rule names is in the vocabulary and
    that every symptom of the vocabulary has a rule for each drug: no symptom is "continue"
    by omission (a rule may say "continue" on purpose, with its message).
    """
    raw = load_policy("monitoring_thresholds.json", policy_dir)
    check_keys(
        raw,
        "",
        [
            "version",
            "threshold_rules",
            "symptom_rules",
            "baseline_rules",
            "symptoms",
            "required_measures",
            "recovery",
            "_origin",
        ],
        ["description"],
    )
    actions = [a.value for a in Action if a != Action.INCOMPLETE]
    measures = [*NUMERIC_MEASURES, *INTEGER_MEASURES]
    vocabulary = _symptoms(raw["symptoms"], "symptoms")
    symptom_ids = [s.id for s in vocabulary]
    rpath = "required_measures"
    req = as_mapping(raw[rpath], rpath)
    check_keys(req, rpath, ["measures", "sedation", "sources", "note"])
    required = tuple(
        as_str(m, join(join(rpath, "measures"), i), measures)
        for i, m in enumerate(as_list(req["measures"], join(rpath, "measures")))
    )
    sedation = tuple(
        as_str(m, join(join(rpath, "sedation"), i), INTEGER_MEASURES)
        for i, m in enumerate(as_list(req["sedation"], join(rpath, "sedation")))
    )
    check_sources(req["sources"], join(rpath, "sources"))
    thresholds = []
    seen: set[str] = set()

    def rule_id(d: Mapping[str, Any], path: str) -> str:
        rid = as_str(d["id"], join(path, "id"))
        if rid in seen:
            raise ClinicalInputError(join(path, "id"), f"duplicate rule id {rid}")
        seen.add(rid)
        return rid

    for i, entry in enumerate(as_list(raw["threshold_rules"], "threshold_rules")):
        path = join("threshold_rules", i)
        d = as_mapping(entry, path)
        keys = ["id", "measure", "comparison", "value", "action", "drugs", "message"]
        check_keys(d, path, [*keys, "sources", "note"])
        thresholds.append(
            ThresholdRule(
                id=rule_id(d, path),
                measure=as_str(d["measure"], join(path, "measure"), measures),
                comparison=as_str(d["comparison"], join(path, "comparison"), COMPARISONS),
                value=as_number(d["value"], join(path, "value")),
                action=Action(as_str(d["action"], join(path, "action"), actions)),
                drugs=_drugs(d["drugs"], join(path, "drugs")),
                message=as_str(d["message"], join(path, "message")),
                sources=check_sources(d["sources"], join(path, "sources")),
                note=as_str(d["note"], join(path, "note")),
            )
        )
    baseline_rules = []
    for i, entry in enumerate(as_list(raw["baseline_rules"], "baseline_rules")):
        path = join("baseline_rules", i)
        d = as_mapping(entry, path)
        keys = ["id", "measure", "rise_percent", "action", "drugs", "message", "sources", "note"]
        check_keys(d, path, keys)
        baseline_rules.append(
            BaselineRule(
                id=rule_id(d, path),
                measure=as_str(d["measure"], join(path, "measure"), BASELINE_MEASURES),
                rise_percent=as_number(d["rise_percent"], join(path, "rise_percent"), 0, 500),
                action=Action(as_str(d["action"], join(path, "action"), actions)),
                drugs=_drugs(d["drugs"], join(path, "drugs")),
                message=as_str(d["message"], join(path, "message")),
                sources=check_sources(d["sources"], join(path, "sources")),
                note=as_str(d["note"], join(path, "note")),
            )
        )
    symptom_rules = []
    for i, entry in enumerate(as_list(raw["symptom_rules"], "symptom_rules")):
        path = join("symptom_rules", i)
        d = as_mapping(entry, path)
        check_keys(d, path, ["id", "symptoms", "action", "drugs", "message", "sources", "note"])
        spath = join(path, "symptoms")
        symptom_rules.append(
            SymptomRule(
                id=rule_id(d, path),
                symptoms=frozenset(
                    as_str(s, join(spath, j), symptom_ids)
                    for j, s in enumerate(as_list(d["symptoms"], spath))
                ),
                action=Action(as_str(d["action"], join(path, "action"), actions)),
                drugs=_drugs(d["drugs"], join(path, "drugs")),
                message=as_str(d["message"], join(path, "message")),
                sources=check_sources(d["sources"], join(path, "sources")),
                note=as_str(d["note"], join(path, "note")),
            )
        )
    for drug in DRUGS:
        covered = {s for r in symptom_rules if drug in r.drugs for s in r.symptoms}
        missing = [s for s in symptom_ids if s not in covered]
        if missing:
            raise ClinicalInputError(
                "symptom_rules", f"no rule decides {missing} for {drug}: add one for each drug"
            )
    return MonitoringThresholds(
        raw["version"],
        tuple(thresholds),
        tuple(symptom_rules),
        tuple(baseline_rules),
        vocabulary,
        required,
        sedation,
        _recovery(raw["recovery"], "recovery"),
    )


def parse_observation(
    raw: object, thresholds: MonitoringThresholds | None = None
) -> dict[str, Any]:
    """Check an observation; symptom aliases (e.g. ``dizziness``) become their symptom."""
    thresholds = thresholds or load_thresholds()
    data = as_mapping(raw, "observation")
    keys = ["elapsed_min", *NUMERIC_MEASURES, *INTEGER_MEASURES, "symptoms"]
    check_keys(data, "observation", [], keys)
    out: dict[str, Any] = {}
    if data.get("elapsed_min") is not None:
        out["elapsed_min"] = as_number(data["elapsed_min"], "observation.elapsed_min", lo=0)
    for key, (lo, hi) in NUMERIC_MEASURES.items():
        if data.get(key) is not None:
            out[key] = as_number(data[key], join("observation", key), lo, hi)
    for key, (ilo, ihi) in INTEGER_MEASURES.items():
        if data.get(key) is not None:
            out[key] = as_int(data[key], join("observation", key), ilo, ihi)
    symptoms = as_list(data.get("symptoms", []), "observation.symptoms")
    codes = [c for s in thresholds.symptoms for c in (s.id, *s.aliases)]
    out["symptoms"] = frozenset(
        thresholds.canonical_symptom(as_str(s, join("observation.symptoms", i), codes))
        for i, s in enumerate(symptoms)
    )
    return out


def parse_infusion(raw: object) -> dict[str, Any]:
    data = as_mapping(raw, "infusion")
    check_keys(data, "infusion", ["drug"], ["rate_mg_per_h", "protocol_id", "baseline", "phase"])
    out: dict[str, Any] = {"drug": as_str(data["drug"], "infusion.drug", DRUGS)}
    if data.get("rate_mg_per_h") is not None:
        out["rate_mg_per_h"] = as_number(data["rate_mg_per_h"], "infusion.rate_mg_per_h", lo=0)
    out["phase"] = as_str(data.get("phase", "infusion"), "infusion.phase", PHASES)
    baseline: dict[str, float] = {}
    if data.get("baseline") is not None:
        bdata = as_mapping(data["baseline"], "infusion.baseline")
        check_keys(bdata, "infusion.baseline", [], BASELINE_MEASURES)
        for key in BASELINE_MEASURES:
            if bdata.get(key) is not None:
                lo, hi = NUMERIC_MEASURES[key]
                baseline[key] = as_number(bdata[key], join("infusion.baseline", key), lo + 1, hi)
    out["baseline"] = baseline
    return out


def rise_reached(value: float, baseline: float, rise_percent: float) -> bool:
    """True when ``value`` is at least ``rise_percent`` % above ``baseline`` (both in the
    measure's unit, e.g. mmHg or /min), exactly at the percentage included.

    Compared as ``value × 100 >= baseline × (100 + rise_percent)`` so that a rise of exactly
    the percentage (120 → 144 mmHg at 20 %) is not lost to binary rounding.
    """
    return value * 100 >= baseline * (100 + rise_percent) - 1e-9


def evaluate_observation(
    observation: Mapping[str, Any],
    infusion: Mapping[str, Any],
    thresholds: MonitoringThresholds | None = None,
    policy_dir: str | Path | None = None,
) -> MonitoringDecision:
    """Return the action for one observation during or after an infusion, with every rule
    that fired and every required measure that was not recorded."""
    thresholds = thresholds or load_thresholds(policy_dir)
    obs = parse_observation(observation, thresholds)
    inf = parse_infusion(infusion)
    drug = inf["drug"]
    baseline = inf["baseline"]
    reasons: list[MonitoringReason] = []
    for rule in thresholds.threshold_rules:
        if drug not in rule.drugs or rule.measure not in obs:
            continue
        value = obs[rule.measure]
        if COMPARISONS[rule.comparison](value, rule.value):
            detail = f"{_measure_words(rule.measure)} {value:g} {_unit(rule.measure)}".rstrip()
            reasons.append(
                MonitoringReason(rule.id, rule.action, rule.message, detail, rule.sources)
            )
    for brule in thresholds.baseline_rules:
        if drug not in brule.drugs or brule.measure not in obs or brule.measure not in baseline:
            continue
        value, before = obs[brule.measure], baseline[brule.measure]
        if rise_reached(value, before, brule.rise_percent):
            rise = (value - before) / before * 100
            detail = (
                f"{_measure_words(brule.measure)} {value:g} {_unit(brule.measure)}, "
                f"{rise:.0f}% above {before:g} before the infusion"
            )
            reasons.append(
                MonitoringReason(brule.id, brule.action, brule.message, detail, brule.sources)
            )
    for srule in thresholds.symptom_rules:
        hits = sorted(srule.symptoms & obs["symptoms"])
        if drug in srule.drugs and hits:
            words = ", ".join(thresholds.symptom_label(h).lower() for h in hits)
            reasons.append(
                MonitoringReason(srule.id, srule.action, srule.message, words, srule.sources)
            )
    reasons.sort(key=lambda r: -r.action.severity)
    required = thresholds.required_measures or (
        "systolic_bp_mmhg",
        "diastolic_bp_mmhg",
        "heart_rate_bpm",
        "respiratory_rate_per_min",
        "spo2_percent",
    )
    sedation = thresholds.required_sedation or ("rass", "moaas")
    not_recorded = tuple(k for k in required if k not in obs)
    if not any(k in obs for k in sedation):
        not_recorded += ("sedation (" + " or ".join(sedation) + ")",)
    action = reasons[0].action if reasons else Action.CONTINUE
    if not_recorded and action.severity < Action.INCOMPLETE.severity:
        action = Action.INCOMPLETE
    return MonitoringDecision(
        action,
        tuple(reasons),
        not_recorded,
        thresholds.version,
        inf["phase"],
        bool(baseline),
    )


MEASURE_WORDS = {
    "systolic_bp_mmhg": ("systolic BP", "mmHg"),
    "diastolic_bp_mmhg": ("diastolic BP", "mmHg"),
    "heart_rate_bpm": ("heart rate", "/min"),
    "respiratory_rate_per_min": ("respiratory rate", "/min"),
    "spo2_percent": ("SpO2", "%"),
    "rass": ("RASS", ""),
    "moaas": ("MOAA/S", ""),
    "cadss6": ("CADSS-6", ""),
}


def _measure_words(measure: str) -> str:
    return MEASURE_WORDS.get(measure, (measure, ""))[0]


def _unit(measure: str) -> str:
    return MEASURE_WORDS.get(measure, ("", ""))[1]


def measure_words(code: str) -> str:
    """Plain words for a measure code or a ``not_recorded`` entry (no codes on a page)."""
    if code.startswith("sedation"):
        return "sedation (RASS or MOAA/S)"
    return _measure_words(code)


# --- after the infusion: recovery and home discharge -----------------------------------------


def padss_vital_signs_points(
    baseline: Mapping[str, float], current: Mapping[str, float]
) -> int | None:
    """The modified PADSS vital-signs item from the pre-infusion and the latest vital signs.

    Parameters
    ----------
    baseline, current : mapping
        ``systolic_bp_mmhg`` (mmHg) and ``heart_rate_bpm`` (/min) before the infusion and now.

    Returns
    -------
    int or None
        2 when blood pressure and heart rate are both within 20 % of the pre-infusion value,
        1 within 20-40 %, 0 beyond 40 % (Chung 1995, modified PADSS [S2]; the band edges
        belong to the lower band: exactly 20 % scores 2); None when a value is missing.
    """
    worst = 0.0
    for key in ("systolic_bp_mmhg", "heart_rate_bpm"):
        before, now = baseline.get(key), current.get(key)
        if before is None or now is None or before <= 0:
            return None
        worst = max(worst, abs(float(now) - float(before)) * 100 / float(before))
    if worst <= 20 + 1e-9:
        return 2
    if worst <= 40 + 1e-9:
        return 1
    return 0


@dataclass(frozen=True)
class RecoveryRound:
    """One observation after the infusion stopped: when, its decision, its CADSS-6."""

    minutes_after_stop: float
    decision: MonitoringDecision
    cadss6: int | None = None


@dataclass(frozen=True)
class DischargeFacts:
    """What the discharge decision needs; scores are totals already computed (0-10)."""

    drug: str
    minutes_since_stop: float | None
    last_round: RecoveryRound | None
    padss_score: int | None
    padss_min_score: int
    aldrete_score: int | None
    aldrete_min_score: int
    escort_present: bool
    open_alerts: int = 0


@dataclass(frozen=True)
class DischargeCriterion:
    key: str
    met: bool
    message: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "met": self.met,
            "message": self.message,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class DischargeDecision:
    ready: bool
    criteria: tuple[DischargeCriterion, ...]
    thresholds_version: str

    @property
    def unmet(self) -> tuple[DischargeCriterion, ...]:
        return tuple(c for c in self.criteria if not c.met)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "criteria": [c.to_dict() for c in self.criteria],
            "thresholds_version": self.thresholds_version,
        }


def assess_discharge(
    facts: DischargeFacts, thresholds: MonitoringThresholds | None = None
) -> DischargeDecision:
    """Every home-discharge criterion after an outpatient infusion, met or not, in plain words.

    Criteria (values in ``monitoring_thresholds.json`` ``recovery`` and
    ``instrument_policy.json``): the minimum recovery time since the stop; a recovery round
    after the stop that is complete and fires no rule; dissociation resolved (CADSS-6 at or
    below the policy value on that round, for the drugs the policy names); the modified PADSS
    and the modified Aldrete at or above their discharge scores; an escort present; no alert
    left unacknowledged. Discharge is ready only when every criterion is met.
    """
    thresholds = thresholds or load_thresholds()
    policy = thresholds.recovery
    if policy is None:
        raise ClinicalInputError("recovery", "the monitoring policy has no recovery section")
    drug = as_str(facts.drug, "drug", DRUGS)
    out: list[DischargeCriterion] = []
    need = float(policy.min_recovery_min[drug].value)
    since = facts.minutes_since_stop
    out.append(
        DischargeCriterion(
            "recovery_time",
            since is not None and since >= need,
            f"At least {need:g} min of recovery after the infusion stopped"
            + ("" if since is None else f" ({since:.0f} min so far)"),
            policy.min_recovery_min[drug].sources,
        )
    )
    last = facts.last_round
    out.append(
        DischargeCriterion(
            "recovery_observation",
            last is not None,
            "A full set of observations recorded after the infusion stopped",
            ("clinic_policy",),
        )
    )
    if last is not None:
        missing = ", ".join(measure_words(m) for m in last.decision.not_recorded)
        out.append(
            DischargeCriterion(
                "recovery_complete",
                last.decision.complete,
                "The last recovery round is complete"
                + (f" (missing: {missing})" if missing else ""),
                ("clinic_policy",),
            )
        )
        fired = "; ".join(r.message for r in last.decision.reasons if r.action != Action.CONTINUE)
        out.append(
            DischargeCriterion(
                "recovery_within_rules",
                not fired,
                "The last recovery round is within every monitoring rule"
                + (f" (not yet: {fired})" if fired else ""),
                ("clinic_policy",),
            )
        )
    if drug in policy.dissociation_drugs:
        limit = int(policy.dissociation_resolved_max_cadss6.value)
        cadss = last.cadss6 if last is not None else None
        out.append(
            DischargeCriterion(
                "dissociation",
                cadss is not None and cadss <= limit,
                f"Dissociation resolved: CADSS-6 {limit} or less on the last recovery round"
                + (
                    " (not recorded)"
                    if last is not None and cadss is None
                    else (f" (now {cadss})" if cadss is not None else "")
                ),
                policy.dissociation_resolved_max_cadss6.sources,
            )
        )
    out.append(
        DischargeCriterion(
            "padss",
            facts.padss_score is not None and facts.padss_score >= facts.padss_min_score,
            f"Modified PADSS {facts.padss_min_score} or more of 10"
            + ("" if facts.padss_score is None else f" (now {facts.padss_score})"),
            ("chung1995_padss",),
        )
    )
    out.append(
        DischargeCriterion(
            "aldrete",
            facts.aldrete_score is not None and facts.aldrete_score >= facts.aldrete_min_score,
            f"Modified Aldrete {facts.aldrete_min_score} or more of 10"
            + ("" if facts.aldrete_score is None else f" (now {facts.aldrete_score})"),
            ("aldrete1995",),
        )
    )
    if bool(policy.escort_required.value):
        out.append(
            DischargeCriterion(
                "escort",
                facts.escort_present,
                "An adult escort is here to take the patient home",
                policy.escort_required.sources,
            )
        )
    out.append(
        DischargeCriterion(
            "alerts",
            facts.open_alerts == 0,
            "Every alert acknowledged"
            + (f" ({facts.open_alerts} open)" if facts.open_alerts else ""),
            ("clinic_policy",),
        )
    )
    return DischargeDecision(all(c.met for c in out), tuple(out), thresholds.version)
