"""Outcomes: IMMPACT change category, responder status, durability, next-step recommendation.

IMMPACT (Dworkin 2008 [S]) pain-intensity benchmarks: minimally important 10-20% decrease,
moderately important >=30%, substantial >=50%. A decrease of 20-30% sits between the
published "minimal" and "moderate" bands and is reported as ``minimal`` here. The point
equivalents (about 2 points moderate, about 4 points substantial on the 0-10 NRS; Farrar 2001
via IMMPACT [S2]) are required as well as the percentage (clinic policy), so that a small
change on a low baseline (3 -> 2 is 33%) is not called a response.

The responder definition, the treatment sequence and the booster rules are clinic policy
(``responder_policy.json``).

Trial history JSON for :func:`recommend`::

    {"trials": [
       {"drug": "ketamine", "total_dose_mg": 100, "duration_h": 4, "completed": true,
        "baseline_nrs": 8, "kind": "trial", "stopped_for": null,
        "followups": [{"day": 7, "nrs": 4, "pgic": 2}, {"day": 42, "nrs": 7, "pgic": 4}]}
    ]}

Entries (trials and boosters) are in date order; follow-up days count from that entry's
infusion; ``pgic`` may be null; ``stopped_for`` is null, ``"intolerance"`` or ``"other"``.

The latest entry decides first: a current responder is never sent down the failure sequence
because of an older failed trial. Only when the latest entry did not respond are the older
ones counted.
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
    """The clinic's responder, sequence and booster policy (``responder_policy.json``)."""

    version: str
    min_nrs_reduction_percent: float
    strong_nrs_reduction_percent: float
    min_nrs_reduction_points: float
    strong_nrs_reduction_points: float
    max_pgic: int
    require_pgic: bool
    adequate_ketamine_trial_min_total_mg: float
    adequate_ketamine_trial_min_duration_h: float
    adequate_ketamine_trials_before_lidocaine: int
    adequate_lidocaine_trials_before_stop: int
    booster_min_relief_days: float
    booster_min_interval_days: float
    ketamine_course_max_cumulative_mg: float
    lidocaine_course_max_cumulative_mg: float

    def course_cap_mg(self, drug: str) -> float:
        """Cumulative-dose cap of a course of ``drug`` (mg)."""
        if drug == "ketamine":
            return self.ketamine_course_max_cumulative_mg
        return self.lidocaine_course_max_cumulative_mg


# key -> (kind, lo, hi); kind "n" number, "i" integer, "b" boolean
_POLICY_SPEC: dict[str, tuple[str, float | None, float | None]] = {
    "min_nrs_reduction_percent": ("n", 0, 100),
    "strong_nrs_reduction_percent": ("n", 0, 100),
    "min_nrs_reduction_points": ("n", 0, 10),
    "strong_nrs_reduction_points": ("n", 0, 10),
    "max_pgic": ("i", 1, 7),
    "require_pgic": ("b", None, None),
    "adequate_ketamine_trial_min_total_mg": ("n", 0, None),
    "adequate_ketamine_trial_min_duration_h": ("n", 0, None),
    "adequate_ketamine_trials_before_lidocaine": ("i", 1, 100),
    "adequate_lidocaine_trials_before_stop": ("i", 1, 100),
    "booster_min_relief_days": ("n", 0, 3650),
    "booster_min_interval_days": ("n", 0, 3650),
    "ketamine_course_max_cumulative_mg": ("n", 0, None),
    "lidocaine_course_max_cumulative_mg": ("n", 0, None),
}
_POLICY_KEYS = tuple(_POLICY_SPEC)


def load_responder_policy(policy_dir: str | Path | None = None) -> ResponderPolicy:
    """Load and check ``responder_policy.json`` (every value with its sources)."""
    raw = load_policy("responder_policy.json", policy_dir)
    check_keys(raw, "", ["version", "_origin", *_POLICY_KEYS], ["description"])
    values: dict[str, Any] = {}
    for key, (kind, lo, hi) in _POLICY_SPEC.items():
        spec = as_mapping(raw[key], key)
        check_keys(spec, key, ["value", "sources", "note"])
        check_sources(spec["sources"], join(key, "sources"))
        path = key + ".value"
        if kind == "b":
            values[key] = as_bool(spec["value"], path)
        elif kind == "i":
            lo_i = None if lo is None else int(lo)
            hi_i = None if hi is None else int(hi)
            values[key] = as_int(spec["value"], path, lo_i, hi_i)
        else:
            values[key] = as_number(spec["value"], path, lo, hi)
    return ResponderPolicy(version=raw["version"], **values)


# --- change and response --------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeResult:
    baseline_nrs: int
    followup_nrs: int
    percent_reduction: float | None
    category: ChangeCategory
    sources: tuple[str, ...] = IMMPACT_SOURCES

    @property
    def points_reduction(self) -> int:
        """Absolute decrease on the 0-10 NRS (negative when worse)."""
        return self.baseline_nrs - self.followup_nrs

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_nrs": self.baseline_nrs,
            "followup_nrs": self.followup_nrs,
            "percent_reduction": self.percent_reduction,
            "points_reduction": self.points_reduction,
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
    """Responder status under the clinic policy.

    Default: an NRS decrease of >=30% **and** >=2 points (IMMPACT, Farrar 2001 point
    equivalent [S2]), and PGIC <= 2; strong responder at >=50% and >=4 points.

    ``responder`` is None when it cannot be decided (baseline NRS 0, or PGIC required but
    not recorded while the NRS criterion is met). A missing PGIC never makes a failure.
    """
    policy = policy or load_responder_policy()
    change = classify_change(baseline_nrs, followup_nrs)
    pgic_value = None if pgic is None else as_int(pgic, "pgic", 1, 7)
    reasons = [f"IMMPACT category: {change.category.value}"]
    if change.percent_reduction is None:
        reasons.append("baseline NRS is 0: percentage change undefined")
        return ResponseResult(change, pgic_value, None, None, tuple(reasons), policy.version)
    points = change.points_reduction
    pct_ok = change.percent_reduction >= policy.min_nrs_reduction_percent
    points_ok = points >= policy.min_nrs_reduction_points
    nrs_ok = pct_ok and points_ok
    strong_nrs = (
        change.percent_reduction >= policy.strong_nrs_reduction_percent
        and points >= policy.strong_nrs_reduction_points
    )
    reasons.append(
        f"NRS reduction {change.percent_reduction:g}% "
        f"({'meets' if pct_ok else 'below'} {policy.min_nrs_reduction_percent:g}%)"
    )
    reasons.append(
        f"NRS reduction {points} point(s) "
        f"({'meets' if points_ok else 'below'} {policy.min_nrs_reduction_points:g})"
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


class TrialStatus(StrEnum):
    """What one trial (or booster) showed."""

    NO_FOLLOW_UP = "no_follow_up"
    RESPONDED = "responded"
    UNDECIDED = "undecided"
    NO_RESPONSE = "no_response"


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

    @property
    def status(self) -> TrialStatus:
        """Responded if any follow-up met the criteria; undecided if none did but one could
        not be decided (PGIC missing); no response only if every follow-up was decided."""
        if not self.per_followup:
            return TrialStatus.NO_FOLLOW_UP
        if self.responded:
            return TrialStatus.RESPONDED
        if any(r.responder is None for r in self.per_followup):
            return TrialStatus.UNDECIDED
        return TrialStatus.NO_RESPONSE

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
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
    PHYSICIAN_REVIEW = "physician_review"
    COMPLETE_ASSESSMENT = "complete_assessment"


STOP_REASONS = ("intolerance", "other")
ENTRY_KINDS = ("trial", "booster")


@dataclass(frozen=True)
class Trial:
    drug: str
    total_dose_mg: float | None
    duration_h: float | None
    completed: bool
    baseline_nrs: int
    followups: tuple[FollowUp, ...]
    kind: str = "trial"
    stopped_for: str | None = None

    @property
    def stopped_for_intolerance(self) -> bool:
        return self.stopped_for == "intolerance"


@dataclass(frozen=True)
class RecommendationResult:
    recommendation: Recommendation
    rule_id: str
    reasons: tuple[str, ...]
    sources: tuple[str, ...]
    adequate_ketamine_non_responses: int
    adequate_lidocaine_non_responses: int
    policy_version: str
    latest_status: TrialStatus | None = None
    not_before_day: float | None = None
    cumulative_dose_mg: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendation": self.recommendation.value,
            "rule_id": self.rule_id,
            "reasons": list(self.reasons),
            "sources": list(self.sources),
            "adequate_ketamine_non_responses": self.adequate_ketamine_non_responses,
            "adequate_lidocaine_non_responses": self.adequate_lidocaine_non_responses,
            "policy_version": self.policy_version,
            "latest_status": None if self.latest_status is None else self.latest_status.value,
            "not_before_day": self.not_before_day,
            "cumulative_dose_mg": self.cumulative_dose_mg,
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
            ["total_dose_mg", "duration_h", "completed", "kind", "stopped_for"],
        )
        total = t.get("total_dose_mg")
        duration = t.get("duration_h")
        stopped = t.get("stopped_for")
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
                kind=as_str(t.get("kind", "trial"), join(path, "kind"), ENTRY_KINDS),
                stopped_for=None
                if stopped is None
                else as_str(stopped, join(path, "stopped_for"), STOP_REASONS),
            )
        )
    return tuple(trials)


def is_adequate(trial: Trial, policy: ResponderPolicy) -> bool:
    """Whether a trial was given as the policy defines an adequate trial (ketamine: >= the
    grade-C total over more than the grade-C duration; lidocaine: completed as planned)."""
    if trial.drug == "ketamine":
        return (
            trial.total_dose_mg is not None
            and trial.duration_h is not None
            and trial.total_dose_mg >= policy.adequate_ketamine_trial_min_total_mg
            and trial.duration_h > policy.adequate_ketamine_trial_min_duration_h
        )
    return trial.completed


def counts_as_tried(trial: Trial, durability: DurabilityResult, policy: ResponderPolicy) -> bool:
    """A trial counts toward the sequence (ketamine -> lidocaine -> stop) when it brought no
    response and was either adequate with every follow-up decided, or stopped because the
    patient could not tolerate the drug (with or without follow-up)."""
    status = durability.status
    if status is TrialStatus.RESPONDED:
        return False
    if trial.stopped_for_intolerance:
        return True
    return status is TrialStatus.NO_RESPONSE and is_adequate(trial, policy)


def recommend(
    history: Mapping[str, Any], policy: ResponderPolicy | None = None
) -> RecommendationResult:
    """Next step. The latest entry decides first: a responder continues or gets a booster
    (when relief lasted long enough, the interval is respected and the course stays under
    its cumulative-dose cap); a latest entry without follow-up waits; an undecided one asks
    for the missing assessment. Only after a latest non-response are the older trials
    counted: lidocaine after the policy's number of ketamine trials tried, stop after the
    policy's number of lidocaine trials tried."""
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
        if counts_as_tried(trial, d, policy):
            if trial.drug == "ketamine":
                ket_fail += 1
            else:
                lid_fail += 1
    latest_status = durability[-1].status if trials else None

    def result(
        rec: Recommendation,
        rule: str,
        reasons: list[str],
        sources: tuple[str, ...],
        **extra: Any,
    ) -> RecommendationResult:
        return RecommendationResult(
            rec, rule, tuple(reasons), sources, ket_fail, lid_fail, policy.version,
            latest_status, **extra,
        )  # fmt: skip

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
    latest, latest_d = trials[-1], durability[-1]
    status = latest_d.status
    if status is TrialStatus.RESPONDED:
        return _after_response(latest, latest_d, trials, policy, result)
    if status is TrialStatus.NO_FOLLOW_UP and not latest.stopped_for_intolerance:
        return result(
            Recommendation.AWAIT_FOLLOW_UP,
            "OUT-REC-002",
            [f"latest {latest.drug} {latest.kind} has no follow-up scores yet"],
            policy_sources,
        )
    if status is TrialStatus.UNDECIDED and not latest.stopped_for_intolerance:
        return result(
            Recommendation.COMPLETE_ASSESSMENT,
            "OUT-REC-011",
            [f"latest {latest.drug} {latest.kind}: the NRS criterion was met but the PGIC was "
             "not recorded, so the response is undecided (not a failure): record the PGIC "
             "before choosing the next step"],
            ("dworkin2008", "clinic_policy"),
        )  # fmt: skip
    why = (
        "was stopped for intolerance (counts as tried)"
        if latest.stopped_for_intolerance
        else "showed no response"
        if is_adequate(latest, policy)
        else "was not adequate"
    )
    if latest.drug == "lidocaine":
        if lid_fail >= policy.adequate_lidocaine_trials_before_stop:
            return result(
                Recommendation.STOP,
                "OUT-REC-007",
                [f"latest lidocaine {latest.kind} {why}; {lid_fail} lidocaine trial(s) tried "
                 f"without response (policy: {policy.adequate_lidocaine_trials_before_stop}); "
                 f"{ket_fail} ketamine trial(s) tried without response: stop infusion therapy"],
                policy_sources,
            )  # fmt: skip
        return result(
            Recommendation.REPEAT_LIDOCAINE_TRIAL,
            "OUT-REC-006",
            [f"latest lidocaine {latest.kind} {why}; {lid_fail} of "
             f"{policy.adequate_lidocaine_trials_before_stop} lidocaine trial(s) tried "
             "without response before stopping: repeat it"],
            policy_sources,
        )  # fmt: skip
    if ket_fail >= policy.adequate_ketamine_trials_before_lidocaine:
        if lid_fail >= policy.adequate_lidocaine_trials_before_stop:
            return result(
                Recommendation.STOP,
                "OUT-REC-007",
                [f"latest ketamine {latest.kind} {why}; {ket_fail} ketamine and {lid_fail} "
                 "lidocaine trial(s) tried without response: stop infusion therapy"],
                policy_sources,
            )  # fmt: skip
        return result(
            Recommendation.LIDOCAINE_TRIAL,
            "OUT-REC-005",
            [f"latest ketamine {latest.kind} {why}; {ket_fail} ketamine trial(s) tried without "
             f"response (policy: {policy.adequate_ketamine_trials_before_lidocaine}): offer a "
             "lidocaine trial"],
            ("cohen2018", "clinic_policy"),
        )  # fmt: skip
    return result(
        Recommendation.REPEAT_KETAMINE_TRIAL,
        "OUT-REC-008",
        [f"latest ketamine {latest.kind} {why}; {ket_fail} of "
         f"{policy.adequate_ketamine_trials_before_lidocaine} ketamine trial(s) tried without "
         "response needed before lidocaine"],
        ("cohen2018", "clinic_policy"),
    )  # fmt: skip


def _after_response(
    latest: Trial,
    latest_d: DurabilityResult,
    trials: tuple[Trial, ...],
    policy: ResponderPolicy,
    result: Any,
) -> RecommendationResult:
    """Latest entry responded: continue while relief lasts, then a booster within the policy
    (minimum relief, minimum interval, cumulative-dose cap) or a physician review."""
    assert latest_d.first_response_day is not None
    if latest_d.ongoing:
        return result(  # type: ignore[no-any-return]
            Recommendation.CONTINUE_FOLLOW_UP,
            "OUT-REC-003",
            [f"latest {latest.drug} {latest.kind}: responder since day "
             f"{latest_d.first_response_day:g}; relief ongoing"],
            ("dworkin2008", "clinic_policy"),
        )  # fmt: skip
    assert latest_d.relief_lost_day is not None and latest_d.relief_duration_days is not None
    relief = latest_d.relief_duration_days
    if relief < policy.booster_min_relief_days:
        return result(  # type: ignore[no-any-return]
            Recommendation.PHYSICIAN_REVIEW,
            "OUT-REC-009",
            [f"latest {latest.drug} {latest.kind}: relief lasted {relief:g} days (day "
             f"{latest_d.first_response_day:g} to {latest_d.relief_lost_day:g}), shorter than "
             f"the {policy.booster_min_relief_days:g} days a booster needs: physician review"],
            ("clinic_policy",),
        )  # fmt: skip
    doses = [t.total_dose_mg for t in trials if t.drug == latest.drug]
    if any(d is None for d in doses):
        return result(  # type: ignore[no-any-return]
            Recommendation.PHYSICIAN_REVIEW,
            "OUT-REC-010",
            [f"the {latest.drug} dose of an earlier infusion is not recorded, so the course's "
             f"cumulative dose cannot be checked against its cap "
             f"({policy.course_cap_mg(latest.drug):g} mg): physician review"],
            ("clinic_policy",),
        )  # fmt: skip
    given = float(sum(d for d in doses if d is not None))
    proposed = given + float(latest.total_dose_mg or 0.0)
    cap = policy.course_cap_mg(latest.drug)
    if proposed > cap:
        return result(  # type: ignore[no-any-return]
            Recommendation.PHYSICIAN_REVIEW,
            "OUT-REC-010",
            [f"{latest.drug} given in this course: {given:g} mg; a booster like the latest "
             f"infusion ({latest.total_dose_mg:g} mg) would bring it to {proposed:g} mg, above "
             f"the course cap of {cap:g} mg: physician review"
             + (" (liver tests before more ketamine)" if latest.drug == "ketamine" else "")],
            ("clinic_policy",),
            cumulative_dose_mg=given,
        )  # fmt: skip
    booster = (
        Recommendation.KETAMINE_BOOSTER
        if latest.drug == "ketamine"
        else Recommendation.LIDOCAINE_BOOSTER
    )
    not_before = max(latest_d.relief_lost_day, policy.booster_min_interval_days)
    return result(  # type: ignore[no-any-return]
        booster,
        "OUT-REC-004",
        [f"latest {latest.drug} {latest.kind}: responder from day "
         f"{latest_d.first_response_day:g}; relief lost on day {latest_d.relief_lost_day:g} "
         f"({relief:g} days, policy minimum {policy.booster_min_relief_days:g}): "
         f"{latest.drug} booster, not before day {not_before:g} after the latest infusion "
         f"(minimum interval {policy.booster_min_interval_days:g} days); course total "
         f"{given:g} mg, {proposed:g} mg with the booster (cap {cap:g} mg)"],
        ("dworkin2008", "clinic_policy"),
        not_before_day=not_before,
        cumulative_dose_mg=given,
    )  # fmt: skip
