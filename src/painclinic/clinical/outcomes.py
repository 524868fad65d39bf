"""Outcomes: IMMPACT change category, responder status, durability, next-step recommendation.

IMMPACT (Dworkin 2008 [S]) pain-intensity benchmarks: minimally important 10-20% decrease,
moderately important >=30%, substantial >=50%. A decrease of 20-30% sits between the
published "minimal" and "moderate" bands and is reported as ``minimal`` here.

The responder definition and the treatment-sequence numbers are clinic policy
(``responder_policy.json``).

Trial history JSON for :func:`recommend`::

    {"trials": [
       {"drug": "ketamine", "total_dose_mg": 100, "duration_h": 4, "completed": true,
        "baseline_nrs": 8,
        "followups": [{"day": 7, "nrs": 4, "pgic": 2}, {"day": 42, "nrs": 7, "pgic": 4}]}
    ]}

Trials are in date order; ``pgic`` may be null.
"""

from __future__ import annotations

from collections.abc import Mapping
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

IMMPACT_SOURCES = ("dworkin2008",)


class ChangeCategory(StrEnum):
    NOT_APPLICABLE = "not_applicable"
    WORSE = "worse"
    NO_IMPORTANT_CHANGE = "no_important_change"
    MINIMAL = "minimal"
    MODERATE = "moderate"
    SUBSTANTIAL = "substantial"


@dataclass(frozen=True)
class ResponderPolicy:
    version: str
    min_nrs_reduction_percent: float
    strong_nrs_reduction_percent: float
    max_pgic: int
    require_pgic: bool
    adequate_ketamine_trial_min_total_mg: float
    adequate_ketamine_trial_min_duration_h: float
    adequate_ketamine_trials_before_lidocaine: int
    adequate_lidocaine_trials_before_stop: int


_POLICY_KEYS = (
    "min_nrs_reduction_percent",
    "strong_nrs_reduction_percent",
    "max_pgic",
    "require_pgic",
    "adequate_ketamine_trial_min_total_mg",
    "adequate_ketamine_trial_min_duration_h",
    "adequate_ketamine_trials_before_lidocaine",
    "adequate_lidocaine_trials_before_stop",
)


def load_responder_policy(policy_dir: str | Path | None = None) -> ResponderPolicy:
    raw = load_policy("responder_policy.json", policy_dir)
    check_keys(raw, "", ["version", "_origin", *_POLICY_KEYS], ["description"])
    values: dict[str, Any] = {}
    for key in _POLICY_KEYS:
        spec = as_mapping(raw[key], key)
        check_keys(spec, key, ["value", "sources", "note"])
        check_sources(spec["sources"], join(key, "sources"))
        values[key] = spec["value"]
    vpath = ".value"
    return ResponderPolicy(
        version=raw["version"],
        min_nrs_reduction_percent=as_number(
            values["min_nrs_reduction_percent"], "min_nrs_reduction_percent" + vpath, 0, 100
        ),
        strong_nrs_reduction_percent=as_number(
            values["strong_nrs_reduction_percent"], "strong_nrs_reduction_percent" + vpath, 0, 100
        ),
        max_pgic=as_int(values["max_pgic"], "max_pgic" + vpath, 1, 7),
        require_pgic=as_bool(values["require_pgic"], "require_pgic" + vpath),
        adequate_ketamine_trial_min_total_mg=as_number(
            values["adequate_ketamine_trial_min_total_mg"],
            "adequate_ketamine_trial_min_total_mg" + vpath,
            0,
        ),
        adequate_ketamine_trial_min_duration_h=as_number(
            values["adequate_ketamine_trial_min_duration_h"],
            "adequate_ketamine_trial_min_duration_h" + vpath,
            0,
        ),
        adequate_ketamine_trials_before_lidocaine=as_int(
            values["adequate_ketamine_trials_before_lidocaine"],
            "adequate_ketamine_trials_before_lidocaine" + vpath,
            1,
            100,
        ),
        adequate_lidocaine_trials_before_stop=as_int(
            values["adequate_lidocaine_trials_before_stop"],
            "adequate_lidocaine_trials_before_stop" + vpath,
            1,
            100,
        ),
    )


# --- change and response --------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeResult:
    baseline_nrs: int
    followup_nrs: int
    percent_reduction: float | None
    category: ChangeCategory
    sources: tuple[str, ...] = IMMPACT_SOURCES

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_nrs": self.baseline_nrs,
            "followup_nrs": self.followup_nrs,
            "percent_reduction": self.percent_reduction,
            "category": self.category.value,
            "sources": list(self.sources),
        }


def classify_change(baseline_nrs: object, followup_nrs: object) -> ChangeResult:
    """IMMPACT category of change in NRS pain intensity (Dworkin 2008)."""
    base = as_int(baseline_nrs, "baseline_nrs", 0, 10)
    follow = as_int(followup_nrs, "followup_nrs", 0, 10)
    if base == 0:
        return ChangeResult(base, follow, None, ChangeCategory.NOT_APPLICABLE)
    pct = round((base - follow) / base * 100, 1)
    if pct < 0:
        category = ChangeCategory.WORSE
    elif pct < 10:
        category = ChangeCategory.NO_IMPORTANT_CHANGE
    elif pct < 30:
        category = ChangeCategory.MINIMAL
    elif pct < 50:
        category = ChangeCategory.MODERATE
    else:
        category = ChangeCategory.SUBSTANTIAL
    return ChangeResult(base, follow, pct, category)


@dataclass(frozen=True)
class ResponseResult:
    change: ChangeResult
    pgic: int | None
    responder: bool | None
    strong_responder: bool | None
    reasons: tuple[str, ...]
    policy_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change.to_dict(),
            "pgic": self.pgic,
            "responder": self.responder,
            "strong_responder": self.strong_responder,
            "reasons": list(self.reasons),
            "policy_version": self.policy_version,
        }


def assess_response(
    baseline_nrs: object,
    followup_nrs: object,
    pgic: object = None,
    policy: ResponderPolicy | None = None,
) -> ResponseResult:
    """Responder status under the clinic policy (default: >=30% NRS reduction and PGIC <= 2).

    ``responder`` is None when it cannot be decided (baseline NRS 0, or PGIC required but
    not recorded).
    """
    policy = policy or load_responder_policy()
    change = classify_change(baseline_nrs, followup_nrs)
    pgic_value = None if pgic is None else as_int(pgic, "pgic", 1, 7)
    reasons = [f"IMMPACT category: {change.category.value}"]
    if change.percent_reduction is None:
        reasons.append("baseline NRS is 0: percentage change undefined")
        return ResponseResult(change, pgic_value, None, None, tuple(reasons), policy.version)
    nrs_ok = change.percent_reduction >= policy.min_nrs_reduction_percent
    strong_nrs = change.percent_reduction >= policy.strong_nrs_reduction_percent
    reasons.append(
        f"NRS reduction {change.percent_reduction:g}% "
        f"({'meets' if nrs_ok else 'below'} {policy.min_nrs_reduction_percent:g}%)"
    )
    if pgic_value is None:
        if policy.require_pgic and nrs_ok:
            reasons.append("PGIC not recorded: responder status undecided")
            return ResponseResult(change, None, None, None, tuple(reasons), policy.version)
        pgic_ok = not policy.require_pgic
    else:
        pgic_ok = pgic_value <= policy.max_pgic
        reasons.append(
            f"PGIC {pgic_value} ({'meets' if pgic_ok else 'above'} {policy.max_pgic} or better)"
        )
    responder = nrs_ok and pgic_ok
    return ResponseResult(
        change,
        pgic_value,
        responder,
        responder and strong_nrs,
        tuple(reasons),
        policy.version,
    )


# --- durability -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    day: float
    nrs: int
    pgic: int | None


@dataclass(frozen=True)
class DurabilityResult:
    responded: bool
    first_response_day: float | None
    relief_lost_day: float | None
    relief_duration_days: float | None
    ongoing: bool
    per_followup: tuple[ResponseResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "responded": self.responded,
            "first_response_day": self.first_response_day,
            "relief_lost_day": self.relief_lost_day,
            "relief_duration_days": self.relief_duration_days,
            "ongoing": self.ongoing,
            "per_followup": [r.to_dict() for r in self.per_followup],
        }


def _followups(raw: object, path: str) -> tuple[FollowUp, ...]:
    out = []
    last_day = -1.0
    for i, item in enumerate(as_list(raw, path)):
        ipath = join(path, i)
        data = as_mapping(item, ipath)
        check_keys(data, ipath, ["day", "nrs"], ["pgic"])
        day = as_number(data["day"], join(ipath, "day"), lo=0)
        if day <= last_day:
            raise ClinicalInputError(
                join(ipath, "day"), "follow-ups must be in increasing day order"
            )
        last_day = day
        pgic = data.get("pgic")
        out.append(
            FollowUp(
                day,
                as_int(data["nrs"], join(ipath, "nrs"), 0, 10),
                None if pgic is None else as_int(pgic, join(ipath, "pgic"), 1, 7),
            )
        )
    return tuple(out)


def assess_durability(
    baseline_nrs: object, followups: object, policy: ResponderPolicy | None = None
) -> DurabilityResult:
    """When relief was lost: the first follow-up after a response at which the responder
    criteria are no longer met (undecided follow-ups are skipped)."""
    policy = policy or load_responder_policy()
    series = _followups(followups, "followups")
    results = tuple(assess_response(baseline_nrs, f.nrs, f.pgic, policy) for f in series)
    first: float | None = None
    lost: float | None = None
    for f, r in zip(series, results, strict=True):
        if r.responder is None:
            continue
        if r.responder and first is None:
            first = f.day
        elif not r.responder and first is not None and lost is None:
            lost = f.day
    ongoing = first is not None and lost is None
    duration = None if first is None or lost is None else lost - first
    return DurabilityResult(first is not None, first, lost, duration, ongoing, results)


# --- recommendations ------------------------------------------------------------------------


class Recommendation(StrEnum):
    START_KETAMINE_TRIAL = "start_ketamine_trial"
    AWAIT_FOLLOW_UP = "await_follow_up"
    CONTINUE_FOLLOW_UP = "continue_follow_up"
    KETAMINE_BOOSTER = "ketamine_booster"
    LIDOCAINE_BOOSTER = "lidocaine_booster"
    REPEAT_KETAMINE_TRIAL = "repeat_ketamine_trial"
    LIDOCAINE_TRIAL = "lidocaine_trial"
    REPEAT_LIDOCAINE_TRIAL = "repeat_lidocaine_trial"
    STOP = "stop"


@dataclass(frozen=True)
class Trial:
    drug: str
    total_dose_mg: float | None
    duration_h: float | None
    completed: bool
    baseline_nrs: int
    followups: tuple[FollowUp, ...]


@dataclass(frozen=True)
class RecommendationResult:
    recommendation: Recommendation
    rule_id: str
    reasons: tuple[str, ...]
    sources: tuple[str, ...]
    adequate_ketamine_non_responses: int
    adequate_lidocaine_non_responses: int
    policy_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendation": self.recommendation.value,
            "rule_id": self.rule_id,
            "reasons": list(self.reasons),
            "sources": list(self.sources),
            "adequate_ketamine_non_responses": self.adequate_ketamine_non_responses,
            "adequate_lidocaine_non_responses": self.adequate_lidocaine_non_responses,
            "policy_version": self.policy_version,
        }


def parse_history(raw: object) -> tuple[Trial, ...]:
    data = as_mapping(raw, "")
    check_keys(data, "", ["trials"])
    trials = []
    for i, item in enumerate(as_list(data["trials"], "trials")):
        path = join("trials", i)
        t = as_mapping(item, path)
        check_keys(
            t,
            path,
            ["drug", "baseline_nrs", "followups"],
            ["total_dose_mg", "duration_h", "completed"],
        )
        total = t.get("total_dose_mg")
        duration = t.get("duration_h")
        trials.append(
            Trial(
                drug=as_str(t["drug"], join(path, "drug"), ("ketamine", "lidocaine")),
                total_dose_mg=None
                if total is None
                else as_number(total, join(path, "total_dose_mg"), 0),
                duration_h=None
                if duration is None
                else as_number(duration, join(path, "duration_h"), 0),
                completed=as_bool(t.get("completed", False), join(path, "completed")),
                baseline_nrs=as_int(t["baseline_nrs"], join(path, "baseline_nrs"), 0, 10),
                followups=_followups(t["followups"], join(path, "followups")),
            )
        )
    return tuple(trials)


def is_adequate(trial: Trial, policy: ResponderPolicy) -> bool:
    if trial.drug == "ketamine":
        return (
            trial.total_dose_mg is not None
            and trial.duration_h is not None
            and trial.total_dose_mg >= policy.adequate_ketamine_trial_min_total_mg
            and trial.duration_h > policy.adequate_ketamine_trial_min_duration_h
        )
    return trial.completed


def recommend(
    history: Mapping[str, Any], policy: ResponderPolicy | None = None
) -> RecommendationResult:
    """Next step after the latest trial: booster after relapse in a responder; lidocaine after
    the policy's number of adequate ketamine trials without response; stop after the
    policy's number of adequate lidocaine trials without response."""
    policy = policy or load_responder_policy()
    trials = parse_history(history)
    ket_fail = lid_fail = 0
    durability: list[DurabilityResult] = []
    for trial in trials:
        d = assess_durability(
            trial.baseline_nrs,
            [{"day": f.day, "nrs": f.nrs, "pgic": f.pgic} for f in trial.followups],
            policy,
        )
        durability.append(d)
        if trial.followups and not d.responded and is_adequate(trial, policy):
            if trial.drug == "ketamine":
                ket_fail += 1
            else:
                lid_fail += 1

    def result(
        rec: Recommendation, rule: str, reasons: list[str], sources: tuple[str, ...]
    ) -> RecommendationResult:
        return RecommendationResult(
            rec, rule, tuple(reasons), sources, ket_fail, lid_fail, policy.version
        )

    policy_sources = ("clinic_policy",)
    if not trials:
        return result(
            Recommendation.START_KETAMINE_TRIAL,
            "OUT-REC-001",
            ["no infusion trials recorded: start with a single adequate ketamine infusion "
             f"(>= {policy.adequate_ketamine_trial_min_total_mg:g} mg over more than "
             f"{policy.adequate_ketamine_trial_min_duration_h:g} h), then reassess"],
            ("cohen2018",),
        )  # fmt: skip
    if lid_fail >= policy.adequate_lidocaine_trials_before_stop:
        return result(
            Recommendation.STOP,
            "OUT-REC-007",
            [f"{lid_fail} adequate lidocaine trial(s) without response (policy: "
             f"{policy.adequate_lidocaine_trials_before_stop}); {ket_fail} adequate ketamine "
             "trial(s) without response: stop infusion therapy"],
            policy_sources,
        )  # fmt: skip
    latest, latest_d = trials[-1], durability[-1]
    if not latest.followups:
        return result(
            Recommendation.AWAIT_FOLLOW_UP,
            "OUT-REC-002",
            ["latest trial has no follow-up scores yet"],
            policy_sources,
        )
    if latest_d.responded:
        if latest_d.ongoing:
            return result(
                Recommendation.CONTINUE_FOLLOW_UP,
                "OUT-REC-003",
                [f"responder since day {latest_d.first_response_day:g}; relief ongoing"],
                ("dworkin2008", "clinic_policy"),
            )
        booster = (
            Recommendation.KETAMINE_BOOSTER
            if latest.drug == "ketamine"
            else Recommendation.LIDOCAINE_BOOSTER
        )
        return result(
            booster,
            "OUT-REC-004",
            [f"responder from day {latest_d.first_response_day:g}; relief lost on day "
             f"{latest_d.relief_lost_day:g} ({latest_d.relief_duration_days:g} days): "
             f"{latest.drug} booster"],
            ("dworkin2008", "clinic_policy"),
        )  # fmt: skip
    if ket_fail >= policy.adequate_ketamine_trials_before_lidocaine:
        if latest.drug == "lidocaine" and not is_adequate(latest, policy):
            return result(
                Recommendation.REPEAT_LIDOCAINE_TRIAL,
                "OUT-REC-006",
                ["latest lidocaine trial was not completed as planned: repeat it"],
                policy_sources,
            )
        return result(
            Recommendation.LIDOCAINE_TRIAL,
            "OUT-REC-005",
            [f"{ket_fail} adequate ketamine trial(s) without response (policy: "
             f"{policy.adequate_ketamine_trials_before_lidocaine}): offer a lidocaine trial"],
            ("cohen2018", "clinic_policy"),
        )  # fmt: skip
    why = "was not adequate" if not is_adequate(latest, policy) else "showed no response"
    return result(
        Recommendation.REPEAT_KETAMINE_TRIAL,
        "OUT-REC-008",
        [f"latest {latest.drug} trial {why}; {ket_fail} of "
         f"{policy.adequate_ketamine_trials_before_lidocaine} adequate ketamine non-responses "
         "needed before lidocaine"],
        ("cohen2018", "clinic_policy"),
    )  # fmt: skip
