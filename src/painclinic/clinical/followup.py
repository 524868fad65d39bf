"""Follow-up after a treatment series: the schedule of time points, their windows, reminders.

A series is followed from a baseline before its first infusion to 12 weeks after its last
(``followup_policy.json``, clinic policy: the clinic tells patients ketamine's relief may last
up to 12 weeks). Each time point has a window, in the clinic's calendar days:

- *upcoming* before it opens;
- *open* from ``opens_days_before`` its due day;
- *due* on its due day until ``overdue_days_after``;
- *overdue* after that, until ``closes_days_after``;
- *missed* once closed without answers; *completed* whenever the answers came.

A reminder is due for an open, due or overdue time point that is not completed, at most one a
day (``min_days_between``) and ``max_per_time_point`` in all, never before the clinic's
morning hour. The schedule moves with the series: it is a pure function of the first and last
infusion days, so a series cancelled early or extended is re-planned from its new dates, and
a booster starts a schedule of its own.

Everything here is clinic policy; no published follow-up schedule for these infusions exists
that the reference found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import as_int, as_list, as_mapping, as_str, check_keys, join
from painclinic.clinical.conditions import check_sources
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.policy import load_policy

FOLLOWUP_INSTRUMENTS = ("nrs", "bpi", "pgic", "phq9", "side_effects")


class Anchor(StrEnum):
    FIRST_INFUSION = "first_infusion"
    LAST_INFUSION = "last_infusion"


class WindowState(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    DUE = "due"
    OVERDUE = "overdue"
    MISSED = "missed"
    COMPLETED = "completed"


WINDOW_LABELS = {
    WindowState.UPCOMING: "Not open yet",
    WindowState.OPEN: "Open",
    WindowState.DUE: "Due",
    WindowState.OVERDUE: "Overdue",
    WindowState.MISSED: "Missed",
    WindowState.COMPLETED: "Completed",
}

# States in which answers are still taken and reminders may be sent.
ANSWERABLE = frozenset({WindowState.OPEN, WindowState.DUE, WindowState.OVERDUE})


@dataclass(frozen=True)
class TimePointRule:
    """One time point of the policy: when it falls and which questionnaires it asks for."""

    key: str
    label: str
    anchor: Anchor
    offset_days: int
    opens_days_before: int
    overdue_days_after: int
    closes_days_after: int
    instruments: tuple[str, ...]


@dataclass(frozen=True)
class ReminderPolicy:
    max_per_time_point: int
    min_days_between: int
    send_from_hour_local: int
    retry_after_minutes: tuple[int, ...]


@dataclass(frozen=True)
class FollowUpPolicy:
    version: str
    time_points: tuple[TimePointRule, ...]
    reminders: ReminderPolicy
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ScheduledTimePoint:
    """A time point of one series, in calendar dates (all inclusive)."""

    key: str
    label: str
    opens_on: dt.date
    due_on: dt.date
    overdue_from: dt.date
    closes_on: dt.date
    instruments: tuple[str, ...]


@dataclass(frozen=True)
class ReminderDecision:
    send: bool
    reason: str


def _rule(raw: Any, path: str) -> TimePointRule:
    data = as_mapping(raw, path)
    check_keys(
        data,
        path,
        required=(
            "key",
            "label",
            "anchor",
            "offset_days",
            "opens_days_before",
            "overdue_days_after",
            "closes_days_after",
            "instruments",
        ),
    )
    anchor_text = as_str(data["anchor"], join(path, "anchor"))
    try:
        anchor = Anchor(anchor_text)
    except ValueError:
        raise ClinicalInputError(
            join(path, "anchor"), f"must be one of {[a.value for a in Anchor]}"
        ) from None
    instruments = tuple(
        as_str(item, join(join(path, "instruments"), i))
        for i, item in enumerate(as_list(data["instruments"], join(path, "instruments")))
    )
    for i, name in enumerate(instruments):
        if name not in FOLLOWUP_INSTRUMENTS:
            raise ClinicalInputError(
                join(join(path, "instruments"), i), f"must be one of {list(FOLLOWUP_INSTRUMENTS)}"
            )
    if not instruments:
        raise ClinicalInputError(join(path, "instruments"), "needs at least one questionnaire")
    rule = TimePointRule(
        key=as_str(data["key"], join(path, "key")),
        label=as_str(data["label"], join(path, "label")),
        anchor=anchor,
        offset_days=as_int(data["offset_days"], join(path, "offset_days"), lo=0),
        opens_days_before=as_int(data["opens_days_before"], join(path, "opens_days_before"), lo=0),
        overdue_days_after=as_int(
            data["overdue_days_after"], join(path, "overdue_days_after"), lo=0
        ),
        closes_days_after=as_int(data["closes_days_after"], join(path, "closes_days_after"), lo=0),
        instruments=instruments,
    )
    if rule.closes_days_after < rule.overdue_days_after:
        raise ClinicalInputError(
            join(path, "closes_days_after"), "a window cannot close before it is overdue"
        )
    return rule


def parse_followup_policy(data: Any, origin: str = "<memory>") -> FollowUpPolicy:
    """Validate a follow-up policy; a bad value raises naming its place in the file."""
    root = as_mapping(data, origin)
    check_keys(
        root,
        origin,
        required=("version", "sources", "time_points", "reminders"),
        optional=("description", "_origin"),
    )
    rules = tuple(
        _rule(raw, join(join(origin, "time_points"), i))
        for i, raw in enumerate(as_list(root.get("time_points"), join(origin, "time_points")))
    )
    if not rules:
        raise ClinicalInputError(join(origin, "time_points"), "needs at least one time point")
    keys = [rule.key for rule in rules]
    if len(set(keys)) != len(keys):
        raise ClinicalInputError(join(origin, "time_points"), "time point keys must be unique")
    raw_reminders = as_mapping(root.get("reminders"), join(origin, "reminders"))
    where = join(origin, "reminders")
    check_keys(
        raw_reminders,
        where,
        required=(
            "max_per_time_point",
            "min_days_between",
            "send_from_hour_local",
            "retry_after_minutes",
        ),
        optional=("note",),
    )
    retries = tuple(
        as_int(value, join(join(where, "retry_after_minutes"), i), lo=1)
        for i, value in enumerate(
            as_list(raw_reminders.get("retry_after_minutes"), join(where, "retry_after_minutes"))
        )
    )
    reminders = ReminderPolicy(
        max_per_time_point=as_int(
            raw_reminders.get("max_per_time_point"), join(where, "max_per_time_point"), lo=0
        ),
        min_days_between=as_int(
            raw_reminders.get("min_days_between"), join(where, "min_days_between"), lo=1
        ),
        send_from_hour_local=as_int(
            raw_reminders.get("send_from_hour_local"),
            join(where, "send_from_hour_local"),
            lo=0,
            hi=23,
        ),
        retry_after_minutes=retries,
    )
    sources = check_sources(root.get("sources"), join(origin, "sources"))
    return FollowUpPolicy(
        version=as_str(root.get("version"), join(origin, "version")),
        time_points=rules,
        reminders=reminders,
        sources=sources,
    )


def load_followup_policy(policy_dir: str | Path | None = None) -> FollowUpPolicy:
    """The follow-up policy in force (the clinic's copy, else the packaged default)."""
    data = load_policy("followup_policy.json", policy_dir)
    return parse_followup_policy(data, str(data.get("_origin", "followup_policy.json")))


def build_schedule(
    policy: FollowUpPolicy, first_infusion_on: dt.date, last_infusion_on: dt.date
) -> tuple[ScheduledTimePoint, ...]:
    """The time points of one series, in the order of the policy.

    Parameters
    ----------
    policy : FollowUpPolicy
        The clinic's follow-up policy.
    first_infusion_on, last_infusion_on : datetime.date
        The series' first and last infusion days (the same day for a single infusion or a
        booster). Re-planning a series that was shortened or extended is calling this again.
    """
    if last_infusion_on < first_infusion_on:
        raise ClinicalInputError("last_infusion_on", "the last infusion precedes the first")
    anchors = {Anchor.FIRST_INFUSION: first_infusion_on, Anchor.LAST_INFUSION: last_infusion_on}
    scheduled = []
    for rule in policy.time_points:
        due = anchors[rule.anchor] + dt.timedelta(days=rule.offset_days)
        scheduled.append(
            ScheduledTimePoint(
                key=rule.key,
                label=rule.label,
                opens_on=due - dt.timedelta(days=rule.opens_days_before),
                due_on=due,
                overdue_from=due + dt.timedelta(days=rule.overdue_days_after + 1),
                closes_on=due + dt.timedelta(days=rule.closes_days_after),
                instruments=rule.instruments,
            )
        )
    return tuple(scheduled)


def window_state(
    point: ScheduledTimePoint, today: dt.date, *, completed: bool = False
) -> WindowState:
    """Where ``today`` falls in the time point's window (completed whenever it was answered)."""
    if completed:
        return WindowState.COMPLETED
    if today < point.opens_on:
        return WindowState.UPCOMING
    if today > point.closes_on:
        return WindowState.MISSED
    if today < point.due_on:
        return WindowState.OPEN
    if today < point.overdue_from:
        return WindowState.DUE
    return WindowState.OVERDUE


def reminder_due(
    policy: ReminderPolicy,
    point: ScheduledTimePoint,
    now_local: dt.datetime,
    *,
    completed: bool,
    reminders_sent: int,
    last_reminder_on: dt.date | None,
) -> ReminderDecision:
    """Whether a reminder for ``point`` goes out now (and why not, when it does not).

    ``now_local`` is the clinic's local time; ``reminders_sent`` counts every reminder already
    sent or possibly sent for this time point; ``last_reminder_on`` is the clinic-local day of
    the latest one.
    """
    today = now_local.date()
    state = window_state(point, today, completed=completed)
    if state not in ANSWERABLE:
        return ReminderDecision(False, f"the time point is {WINDOW_LABELS[state].lower()}")
    if now_local.hour < policy.send_from_hour_local:
        return ReminderDecision(False, "before the clinic's reminder hour")
    if reminders_sent >= policy.max_per_time_point:
        return ReminderDecision(False, "every reminder for this time point was sent")
    if last_reminder_on is not None and (today - last_reminder_on).days < policy.min_days_between:
        return ReminderDecision(False, "a reminder already went out today")
    return ReminderDecision(True, f"the time point is {WINDOW_LABELS[state].lower()}")


def retry_delay_minutes(policy: ReminderPolicy, failed_attempts: int) -> int | None:
    """Minutes to wait after the ``failed_attempts``-th transient failure (None: give up)."""
    if failed_attempts < 1 or failed_attempts > len(policy.retry_after_minutes):
        return None
    return policy.retry_after_minutes[failed_attempts - 1]
