"""Safety escalation from follow-up answers given at home.

After a patient (or staff, for answers given by phone) submits a follow-up time point, these
rules decide whether a clinician must act and how soon (``escalation_policy.json``, clinic
editable):

- ``ESC-PHQ-001`` PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered
  above 0 -> *urgent*, whatever the total, and the patient sees the crisis resources at once
  (clinical reference section 6: "item 9 > 0 -> immediate follow-up"; Kroenke 2001) [S];
- ``ESC-PHQ-002`` PHQ-9 total 20 or more (the severe band, 20-27) -> *urgent*, crisis
  resources shown [S];
- ``ESC-NRS-001`` pain (NRS 0-10) risen by ``threshold`` points or more from the series'
  baseline -> *soon* (clinic policy, default 3 points);
- ``ESC-NRS-002`` pain risen by ``threshold`` points or more since the previous time point
  answered -> *soon* (clinic policy, default 3 points);
- ``ESC-ADV-001`` a new adverse effect reported after the series -> *soon* (clinic policy; the
  patient's yes to the follow-up's side-effect question, the ``side_effects`` instrument).

Each escalation carries its rule id, urgency, the clinician's message, the patient's message in
plain words, its sources and evidence tag. Pure Python: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import (
    as_bool,
    as_int,
    as_list,
    as_mapping,
    as_str,
    check_keys,
    join,
)
from painclinic.clinical.conditions import check_sources
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.policy import load_policy
from painclinic.clinical.sources import Evidence

POLICY_FILE = "escalation_policy.json"


class Urgency(StrEnum):
    """How soon a clinician must act: *urgent* today (crisis), *soon* within working days."""

    URGENT = "urgent"
    SOON = "soon"


#: Sort order: urgent first.
URGENCY_RANK = {Urgency.URGENT: 0, Urgency.SOON: 1}


class RuleKind(StrEnum):
    PHQ9_ITEM9 = "phq9_item9"
    PHQ9_TOTAL = "phq9_total"
    NRS_RISE_FROM_BASELINE = "nrs_rise_from_baseline"
    NRS_RISE_FROM_PREVIOUS = "nrs_rise_from_previous"
    NEW_ADVERSE_EFFECT = "new_adverse_effect"


@dataclass(frozen=True)
class EscalationRule:
    id: str
    kind: RuleKind
    # The value at or above which the rule fires: item-9 answer (0-3), PHQ-9 total (0-27),
    # NRS rise in points (0-10), count of new adverse effects.
    threshold: int
    urgency: Urgency
    crisis: bool
    clinician_message: str
    patient_message: str
    sources: tuple[str, ...]
    evidence: Evidence
    note: str


@dataclass(frozen=True)
class CrisisResource:
    """A number the patient can call (``dial`` is what a tel: link dials)."""

    label: str
    dial: str
    display: str
    text: bool
    description: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class EscalationPolicy:
    version: str
    rules: tuple[EscalationRule, ...]
    crisis_resources: tuple[CrisisResource, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class FollowUpAnswers:
    """What one submitted time point says, with the series' earlier pain scores.

    ``phq9_items`` are the nine answers (0-3 each) when PHQ-9 was asked; ``nrs_score`` the
    pain now (0-10); ``baseline_nrs_score`` the series' baseline, ``previous_nrs_score`` the
    last time point answered before this one (None when there is none, or when this time
    point *is* the baseline); ``new_adverse_effects`` effects reported since the last contact.
    """

    phq9_items: tuple[int, ...] | None = None
    nrs_score: int | None = None
    baseline_nrs_score: int | None = None
    previous_nrs_score: int | None = None
    new_adverse_effects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Escalation:
    rule_id: str
    urgency: Urgency
    crisis: bool
    clinician_message: str
    patient_message: str
    # What fired it, in numbers, for the task and its audit event.
    values: dict[str, Any]
    sources: tuple[str, ...]
    evidence: Evidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "urgency": self.urgency.value,
            "crisis": self.crisis,
            "clinician_message": self.clinician_message,
            "values": dict(self.values),
            "sources": list(self.sources),
            "evidence": self.evidence.value,
        }


@dataclass(frozen=True)
class EscalationResult:
    escalations: tuple[Escalation, ...]
    policy_version: str

    @property
    def crisis(self) -> bool:
        """True when the patient must see the crisis resources now."""
        return any(e.crisis for e in self.escalations)

    @property
    def urgency(self) -> Urgency | None:
        """The most urgent level fired (None: nothing to escalate)."""
        if not self.escalations:
            return None
        return min((e.urgency for e in self.escalations), key=URGENCY_RANK.__getitem__)

    @property
    def crisis_reasons(self) -> tuple[str, ...]:
        return tuple(e.patient_message for e in self.escalations if e.crisis)

    @property
    def notices(self) -> tuple[str, ...]:
        """Plain-words messages of the less urgent escalations (the clinic will call)."""
        return tuple(e.patient_message for e in self.escalations if not e.crisis)


# --- policy ---------------------------------------------------------------------------------

_THRESHOLD_RANGE = {
    RuleKind.PHQ9_ITEM9: (1, 3),
    RuleKind.PHQ9_TOTAL: (1, 27),
    RuleKind.NRS_RISE_FROM_BASELINE: (1, 10),
    RuleKind.NRS_RISE_FROM_PREVIOUS: (1, 10),
    RuleKind.NEW_ADVERSE_EFFECT: (1, 100),
}


def _rule(raw: Any, path: str) -> EscalationRule:
    data = as_mapping(raw, path)
    check_keys(
        data,
        path,
        required=(
            "id",
            "kind",
            "threshold",
            "urgency",
            "crisis",
            "clinician_message",
            "patient_message",
            "sources",
            "evidence",
        ),
        optional=("note",),
    )
    kind = RuleKind(as_str(data["kind"], join(path, "kind"), [k.value for k in RuleKind]))
    lo, hi = _THRESHOLD_RANGE[kind]
    evidence = Evidence(
        as_str(data["evidence"], join(path, "evidence"), [e.value for e in Evidence])
    )
    return EscalationRule(
        id=as_str(data["id"], join(path, "id")),
        kind=kind,
        threshold=as_int(data["threshold"], join(path, "threshold"), lo, hi),
        urgency=Urgency(as_str(data["urgency"], join(path, "urgency"), [u.value for u in Urgency])),
        crisis=as_bool(data["crisis"], join(path, "crisis")),
        clinician_message=as_str(data["clinician_message"], join(path, "clinician_message")),
        patient_message=as_str(data["patient_message"], join(path, "patient_message")),
        sources=check_sources(data["sources"], join(path, "sources")),
        evidence=evidence,
        note=as_str(data.get("note", ""), join(path, "note")),
    )


def _resource(raw: Any, path: str) -> CrisisResource:
    data = as_mapping(raw, path)
    check_keys(data, path, required=("label", "dial", "display", "text", "description", "sources"))
    dial = as_str(data["dial"], join(path, "dial"))
    if not dial.isdigit():
        raise ClinicalInputError(join(path, "dial"), "digits only (it is dialled as a tel: link)")
    return CrisisResource(
        label=as_str(data["label"], join(path, "label")),
        dial=dial,
        display=as_str(data["display"], join(path, "display")),
        text=as_bool(data["text"], join(path, "text")),
        description=as_str(data["description"], join(path, "description")),
        sources=check_sources(data["sources"], join(path, "sources")),
    )


def parse_escalation_policy(data: Any, origin: str = "<memory>") -> EscalationPolicy:
    """Validate an escalation policy; a bad value raises naming its place in the file."""
    root = as_mapping(data, origin)
    check_keys(
        root,
        origin,
        required=("version", "sources", "rules", "crisis_resources"),
        optional=("description", "_origin"),
    )
    rules = tuple(
        _rule(raw, join(join(origin, "rules"), i))
        for i, raw in enumerate(as_list(root["rules"], join(origin, "rules")))
    )
    ids = [rule.id for rule in rules]
    if len(set(ids)) != len(ids):
        raise ClinicalInputError(join(origin, "rules"), "rule ids must be unique")
    for i, rule in enumerate(rules):
        # A rule that shows the crisis resources is urgent by definition.
        if rule.crisis and rule.urgency is not Urgency.URGENT:
            raise ClinicalInputError(
                join(join(join(origin, "rules"), i), "urgency"), "a crisis rule must be urgent"
            )
    resources = tuple(
        _resource(raw, join(join(origin, "crisis_resources"), i))
        for i, raw in enumerate(as_list(root["crisis_resources"], join(origin, "crisis_resources")))
    )
    if any(rule.crisis for rule in rules) and not resources:
        raise ClinicalInputError(
            join(origin, "crisis_resources"), "crisis rules need at least one crisis resource"
        )
    return EscalationPolicy(
        version=as_str(root["version"], join(origin, "version")),
        rules=rules,
        crisis_resources=resources,
        sources=check_sources(root["sources"], join(origin, "sources")),
    )


def load_escalation_policy(policy_dir: str | Path | None = None) -> EscalationPolicy:
    data = load_policy(POLICY_FILE, policy_dir)
    return parse_escalation_policy(data, str(data.get("_origin", POLICY_FILE)))


# --- rules ----------------------------------------------------------------------------------


def _check_answers(answers: FollowUpAnswers) -> None:
    if answers.phq9_items is not None:
        if len(answers.phq9_items) != 9:
            raise ClinicalInputError("phq9_items", "PHQ-9 has nine answers")
        for i, value in enumerate(answers.phq9_items):
            as_int(value, f"phq9_items[{i}]", 0, 3)
    for name in ("nrs_score", "baseline_nrs_score", "previous_nrs_score"):
        value = getattr(answers, name)
        if value is not None:
            as_int(value, name, 0, 10)


def _fires(rule: EscalationRule, answers: FollowUpAnswers) -> dict[str, Any] | None:
    """The values that make ``rule`` fire, or None when it does not."""
    items = answers.phq9_items
    now = answers.nrs_score
    if rule.kind is RuleKind.PHQ9_ITEM9:
        if items is not None and items[8] >= rule.threshold:
            return {"phq9_item9": items[8], "threshold": rule.threshold}
        return None
    if rule.kind is RuleKind.PHQ9_TOTAL:
        if items is not None and sum(items) >= rule.threshold:
            return {"phq9_total": sum(items), "threshold": rule.threshold}
        return None
    if rule.kind is RuleKind.NRS_RISE_FROM_BASELINE:
        before = answers.baseline_nrs_score
        if now is not None and before is not None and now - before >= rule.threshold:
            return {"nrs": now, "baseline_nrs": before, "rise_points": now - before,
                    "threshold_points": rule.threshold}  # fmt: skip
        return None
    if rule.kind is RuleKind.NRS_RISE_FROM_PREVIOUS:
        before = answers.previous_nrs_score
        if now is not None and before is not None and now - before >= rule.threshold:
            return {"nrs": now, "previous_nrs": before, "rise_points": now - before,
                    "threshold_points": rule.threshold}  # fmt: skip
        return None
    effects = answers.new_adverse_effects
    if len(effects) >= rule.threshold:
        return {"adverse_effects": list(effects)}
    return None


def evaluate(answers: FollowUpAnswers, policy: EscalationPolicy | None = None) -> EscalationResult:
    """Which escalation rules the answers fire, most urgent first (policy order within a level).

    Parameters
    ----------
    answers : FollowUpAnswers
        The submitted time point's PHQ-9 item answers (0-3 each), NRS now and before (points,
        0-10) and new adverse effects.
    policy : EscalationPolicy, optional
        The rules in force (default: ``escalation_policy.json``).

    Returns
    -------
    EscalationResult
        Every escalation fired, each with its rule id, urgency, messages, values, sources and
        evidence tag; ``crisis`` is true when the patient must see the crisis resources now.
    """
    policy = policy or load_escalation_policy()
    _check_answers(answers)
    fired = []
    for rule in policy.rules:
        values = _fires(rule, answers)
        if values is None:
            continue
        fired.append(
            Escalation(
                rule_id=rule.id,
                urgency=rule.urgency,
                crisis=rule.crisis,
                clinician_message=rule.clinician_message,
                patient_message=rule.patient_message,
                values=values,
                sources=rule.sources,
                evidence=rule.evidence,
            )
        )
    fired.sort(key=lambda e: URGENCY_RANK[e.urgency])
    return EscalationResult(escalations=tuple(fired), policy_version=policy.version)
