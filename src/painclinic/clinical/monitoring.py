"""Intra-infusion monitoring: from one observation and the running infusion, an action.

Observation JSON (all keys optional, unknown keys are errors)::

    {"elapsed_min": 30, "systolic_bp_mmhg": 128, "diastolic_bp_mmhg": 78,
     "heart_rate_bpm": 76, "respiratory_rate_per_min": 14, "spo2_percent": 97,
     "rass": 0, "moaas": 5, "cadss6": 4, "symptoms": ["tinnitus"]}

Infusion JSON: ``{"drug": "ketamine" | "lidocaine", "rate_mg_per_h": 20}``.

Rules and thresholds are data (``monitoring_thresholds.json``). The most severe action that
fires wins: continue < reduce_rate < pause < stop_and_call_physician < emergency.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import (
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
SYMPTOMS = (
    "perioral_numbness",
    "metallic_taste",
    "tinnitus",
    "light_headedness",
    "visual_disturbance",
    "muscle_twitching",
    "slurred_speech",
    "confusion",
    "drowsiness",
    "seizure",
    "loss_of_consciousness",
    "apnoea",
    "arrhythmia",
    "wide_qrs",
    "cardiac_arrest",
    "chest_pain",
    "hallucinations",
    "dysphoria",
    "nausea",
    "vomiting",
    "dizziness",
    "headache",
)
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
class MonitoringThresholds:
    version: str
    threshold_rules: tuple[ThresholdRule, ...]
    symptom_rules: tuple[SymptomRule, ...]


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

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "reasons": [r.to_dict() for r in self.reasons],
            "not_recorded": list(self.not_recorded),
            "thresholds_version": self.thresholds_version,
        }


def _drugs(value: object, path: str) -> frozenset[str]:
    items = as_list(value, path)
    if not items:
        raise ClinicalInputError(path, "at least one drug")
    return frozenset(as_str(d, join(path, i), DRUGS) for i, d in enumerate(items))


def load_thresholds(policy_dir: str | Path | None = None) -> MonitoringThresholds:
    raw = load_policy("monitoring_thresholds.json", policy_dir)
    check_keys(raw, "", ["version", "threshold_rules", "symptom_rules", "_origin"], ["description"])
    actions = [a.value for a in Action]
    measures = [*NUMERIC_MEASURES, *INTEGER_MEASURES]
    thresholds = []
    seen: set[str] = set()
    for i, entry in enumerate(as_list(raw["threshold_rules"], "threshold_rules")):
        path = join("threshold_rules", i)
        d = as_mapping(entry, path)
        keys = ["id", "measure", "comparison", "value", "action", "drugs", "message"]
        check_keys(d, path, [*keys, "sources", "note"])
        rid = as_str(d["id"], join(path, "id"))
        if rid in seen:
            raise ClinicalInputError(join(path, "id"), f"duplicate rule id {rid}")
        seen.add(rid)
        thresholds.append(
            ThresholdRule(
                id=rid,
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
    symptom_rules = []
    for i, entry in enumerate(as_list(raw["symptom_rules"], "symptom_rules")):
        path = join("symptom_rules", i)
        d = as_mapping(entry, path)
        check_keys(d, path, ["id", "symptoms", "action", "drugs", "message", "sources", "note"])
        rid = as_str(d["id"], join(path, "id"))
        if rid in seen:
            raise ClinicalInputError(join(path, "id"), f"duplicate rule id {rid}")
        seen.add(rid)
        spath = join(path, "symptoms")
        symptom_rules.append(
            SymptomRule(
                id=rid,
                symptoms=frozenset(
                    as_str(s, join(spath, j), SYMPTOMS)
                    for j, s in enumerate(as_list(d["symptoms"], spath))
                ),
                action=Action(as_str(d["action"], join(path, "action"), actions)),
                drugs=_drugs(d["drugs"], join(path, "drugs")),
                message=as_str(d["message"], join(path, "message")),
                sources=check_sources(d["sources"], join(path, "sources")),
                note=as_str(d["note"], join(path, "note")),
            )
        )
    return MonitoringThresholds(raw["version"], tuple(thresholds), tuple(symptom_rules))


def parse_observation(raw: object) -> dict[str, Any]:
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
    out["symptoms"] = frozenset(
        as_str(s, join("observation.symptoms", i), SYMPTOMS) for i, s in enumerate(symptoms)
    )
    return out


def parse_infusion(raw: object) -> dict[str, Any]:
    data = as_mapping(raw, "infusion")
    check_keys(data, "infusion", ["drug"], ["rate_mg_per_h", "protocol_id"])
    out: dict[str, Any] = {"drug": as_str(data["drug"], "infusion.drug", DRUGS)}
    if data.get("rate_mg_per_h") is not None:
        out["rate_mg_per_h"] = as_number(data["rate_mg_per_h"], "infusion.rate_mg_per_h", lo=0)
    return out


def evaluate_observation(
    observation: Mapping[str, Any],
    infusion: Mapping[str, Any],
    thresholds: MonitoringThresholds | None = None,
    policy_dir: str | Path | None = None,
) -> MonitoringDecision:
    """Return the action for one observation during an infusion, with every rule that fired."""
    thresholds = thresholds or load_thresholds(policy_dir)
    obs = parse_observation(observation)
    inf = parse_infusion(infusion)
    drug = inf["drug"]
    reasons: list[MonitoringReason] = []
    for rule in thresholds.threshold_rules:
        if drug not in rule.drugs or rule.measure not in obs:
            continue
        value = obs[rule.measure]
        if COMPARISONS[rule.comparison](value, rule.value):
            detail = f"{rule.measure} {value:g} {rule.comparison} {rule.value:g}"
            reasons.append(
                MonitoringReason(rule.id, rule.action, rule.message, detail, rule.sources)
            )
    for srule in thresholds.symptom_rules:
        hits = sorted(srule.symptoms & obs["symptoms"])
        if drug in srule.drugs and hits:
            reasons.append(
                MonitoringReason(
                    srule.id, srule.action, srule.message, ", ".join(hits), srule.sources
                )
            )
    reasons.sort(key=lambda r: -r.action.severity)
    action = reasons[0].action if reasons else Action.CONTINUE
    core = ("systolic_bp_mmhg", "heart_rate_bpm", "respiratory_rate_per_min", "spo2_percent")
    not_recorded = tuple(k for k in core if k not in obs)
    if "rass" not in obs and "moaas" not in obs:
        not_recorded += ("sedation (rass or moaas)",)
    return MonitoringDecision(action, tuple(reasons), not_recorded, thresholds.version)
