"""The follow-up schedule after a series: dates, windows and when a reminder goes out."""

from __future__ import annotations

import copy
import datetime as dt
import json
from importlib import resources

import pytest

from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.followup import (
    WindowState,
    build_schedule,
    load_followup_policy,
    parse_followup_policy,
    reminder_due,
    retry_delay_minutes,
    window_state,
)

POLICY = load_followup_policy()
FIRST, LAST = dt.date(2026, 12, 1), dt.date(2026, 12, 5)


def _point(key: str, first: dt.date = FIRST, last: dt.date = LAST):
    return {p.key: p for p in build_schedule(POLICY, first, last)}[key]


def _raw() -> dict:
    text = resources.files("painclinic.clinical").joinpath("data", "followup_policy.json")
    return json.loads(text.read_text("utf-8"))


def test_the_default_schedule_runs_from_baseline_to_12_weeks_after_the_last_infusion():
    schedule = build_schedule(POLICY, FIRST, LAST)
    assert [p.key for p in schedule] == [
        "baseline",
        "end_of_series",
        "week_1",
        "week_2",
        "week_4",
        "week_8",
        "week_12",
    ]
    due = {p.key: p.due_on for p in schedule}
    assert due["baseline"] == FIRST
    assert due["end_of_series"] == LAST
    for key, weeks in (("week_1", 1), ("week_2", 2), ("week_4", 4), ("week_8", 8), ("week_12", 12)):
        assert due[key] == LAST + dt.timedelta(weeks=weeks), key
    assert "pgic" not in _point("baseline").instruments  # change since the start: not at baseline
    assert {"nrs", "bpi", "pgic", "phq9"} <= set(_point("week_4").instruments)


def test_an_extended_series_moves_every_time_point_after_it():
    later = _point("week_12", last=LAST + dt.timedelta(days=7))
    assert later.due_on == _point("week_12").due_on + dt.timedelta(days=7)
    assert _point("baseline", last=LAST + dt.timedelta(days=7)).due_on == FIRST


def test_window_states_at_each_boundary():
    point = _point("week_4")  # due 2027-01-02, opens 3 days before, overdue after 3, closes +10
    assert window_state(point, point.opens_on - dt.timedelta(days=1)) == WindowState.UPCOMING
    assert window_state(point, point.opens_on) == WindowState.OPEN
    assert window_state(point, point.due_on - dt.timedelta(days=1)) == WindowState.OPEN
    assert window_state(point, point.due_on) == WindowState.DUE
    assert window_state(point, point.due_on + dt.timedelta(days=3)) == WindowState.DUE
    assert window_state(point, point.due_on + dt.timedelta(days=4)) == WindowState.OVERDUE
    assert window_state(point, point.closes_on) == WindowState.OVERDUE
    assert window_state(point, point.closes_on + dt.timedelta(days=1)) == WindowState.MISSED
    assert (
        window_state(point, point.closes_on + dt.timedelta(days=1), completed=True)
        == WindowState.COMPLETED
    )


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour))


def test_a_reminder_goes_out_once_a_day_and_three_times_in_all():
    point = _point("week_4")
    rules = POLICY.reminders
    first = reminder_due(
        rules, point, _at(point.due_on), completed=False, reminders_sent=0, last_reminder_on=None
    )
    assert first.send
    same_day = reminder_due(
        rules,
        point,
        _at(point.due_on, 17),
        completed=False,
        reminders_sent=1,
        last_reminder_on=point.due_on,
    )
    assert not same_day.send and "today" in same_day.reason
    next_day = reminder_due(
        rules,
        point,
        _at(point.due_on + dt.timedelta(days=1)),
        completed=False,
        reminders_sent=1,
        last_reminder_on=point.due_on,
    )
    assert next_day.send
    exhausted = reminder_due(
        rules,
        point,
        _at(point.due_on + dt.timedelta(days=5)),
        completed=False,
        reminders_sent=rules.max_per_time_point,
        last_reminder_on=point.due_on + dt.timedelta(days=2),
    )
    assert not exhausted.send


def test_no_reminder_before_the_window_opens_after_it_closes_when_completed_or_too_early():
    point = _point("week_4")
    rules = POLICY.reminders
    for when, completed in (
        (_at(point.opens_on - dt.timedelta(days=1)), False),
        (_at(point.closes_on + dt.timedelta(days=1)), False),
        (_at(point.due_on), True),
        (_at(point.due_on, rules.send_from_hour_local - 1), False),
    ):
        decision = reminder_due(
            rules, point, when, completed=completed, reminders_sent=0, last_reminder_on=None
        )
        assert not decision.send, (when, completed)
    at_hour = _at(point.opens_on, rules.send_from_hour_local)
    assert reminder_due(
        rules, point, at_hour, completed=False, reminders_sent=0, last_reminder_on=None
    ).send


def test_retries_back_off_then_give_up():
    rules = POLICY.reminders
    delays = [retry_delay_minutes(rules, n) for n in range(1, len(rules.retry_after_minutes) + 2)]
    assert delays[:-1] == sorted(delays[:-1]) and delays[-1] is None


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["time_points"][2].update(instruments=["vas"]), "instruments"),
        (lambda d: d["time_points"][2].update(closes_days_after=1, overdue_days_after=2), "closes"),
        (lambda d: d["time_points"][3].update(key="week_1"), "unique"),
        (lambda d: d["reminders"].update(send_from_hour_local=24), "send_from_hour_local"),
        (lambda d: d["time_points"][0].update(anchor="referral"), "anchor"),
        (lambda d: d["time_points"][0].update(offest_days=3), "offest_days"),
    ],
    ids=["instrument", "closes-before-overdue", "duplicate-key", "hour", "anchor", "typo"],
)
def test_a_bad_policy_names_the_problem(change, where):
    data = copy.deepcopy(_raw())
    change(data)
    with pytest.raises(ClinicalInputError) as error:
        parse_followup_policy(data, "followup_policy.json")
    assert where in str(error.value)


def test_the_last_infusion_cannot_precede_the_first():
    with pytest.raises(ClinicalInputError):
        build_schedule(POLICY, LAST, FIRST)
