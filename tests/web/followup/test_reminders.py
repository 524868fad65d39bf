"""Follow-up after a series and its reminders, walked day by day with a frozen clock.

Each reminder goes out once, on a day its time point is open, due or overdue, at most one a day
and three in all per time point, only to a patient who consented to e-mail, and none once the
time point is answered; a worker stopped while sending never sends that reminder again; a mail
server that fails is retried with back-off, then given up.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from painclinic.clinical.followup import load_followup_policy
from painclinic.web.accounts.models import Role
from painclinic.web.accounts.services import system_actor
from painclinic.web.audit.chain import verify_chain
from painclinic.web.audit.models import AuditEvent, Category
from painclinic.web.followup.models import (
    FollowUpTimePoint,
    Reminder,
    ReminderStatus,
    TimePointStatus,
)
from painclinic.web.followup.services import (
    SENDING_LEASE,
    do_claim_reminder,
    do_plan_followup,
    do_queue_reminders,
)
from painclinic.web.followup.tasks import run_tick
from painclinic.web.lib.actor import Channel
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.patients.models import ConsentDecision
from tests.conftest import make_patient
from tests.web.followup.factories import add_booking, consent_to_email, granted, series

POLICY = load_followup_policy()
DAYS = [dt.date(2026, 12, 1), dt.date(2026, 12, 3), dt.date(2026, 12, 5)]


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return to_utc(day, dt.time(hour, minute))


@pytest.fixture
def worker():
    return system_actor(Channel.WORKER, "test tick")


@pytest.fixture
def followed(users):
    patient = make_patient(email="ada@example.org")
    granted(patient, dt.date(2026, 11, 1), users[Role.FRONT_DESK])
    plan = series(patient, users[Role.PHYSICIAN], DAYS)
    return patient, plan


def walk(worker, first: dt.date, last: dt.date, hours=(10,)) -> None:
    day = first
    while day <= last:
        for hour in hours:
            run_tick(worker, at(day, hour))
        day += dt.timedelta(days=1)


def test_a_whole_series_and_twelve_weeks_each_reminder_once_and_on_time(db, worker, followed):
    patient, plan = followed
    walk(worker, dt.date(2026, 11, 10), dt.date(2027, 3, 31), hours=(8, 10, 16))

    points = {p.key: p for p in FollowUpTimePoint.objects.filter(plan=plan)}
    assert set(points) == {p.key for p in POLICY.time_points}
    reminders = list(Reminder.objects.filter(patient=patient).select_related("time_point"))
    assert all(r.status == ReminderStatus.SENT for r in reminders)
    per_point = Counter(r.time_point.key for r in reminders)
    per_day = Counter((r.time_point_id, r.local_day) for r in reminders)
    assert max(per_day.values()) == 1  # never two on one day, even with three ticks a day
    assert per_point == {key: POLICY.reminders.max_per_time_point for key in points}
    for reminder in reminders:
        point = reminder.time_point
        assert point.opens_on <= reminder.local_day <= point.closes_on, reminder
        # The clinic's morning hour: the 08:00 tick sends nothing.
        assert reminder.sent_at.hour != at(reminder.local_day, 8).hour
    # Each reminder went out as exactly one e-mail to the patient's address.
    assert len(mail.outbox) == len(reminders)
    assert {tuple(m.to) for m in mail.outbox} == {("ada@example.org",)}
    first = mail.outbox[0]
    assert "9-8-8" in first.body and "/portal/" in first.body
    # Sent reminders are audited, each against the patient.
    sent_events = AuditEvent.objects.filter(
        category=Category.FOLLOWUP, patient=patient, detail__event="reminder sent"
    )
    assert sent_events.count() == len(reminders)


def test_the_schedule_follows_the_bookings(db, worker, followed):
    patient, plan = followed
    do_plan_followup(worker, dt.date(2026, 11, 20))
    week_12 = FollowUpTimePoint.objects.get(plan=plan, key="week_12")
    assert week_12.due_on == DAYS[-1] + dt.timedelta(weeks=12)
    # The series is extended by a week: every time point after it moves.
    add_booking(plan, plan.bookings.first().chair, dt.date(2026, 12, 12), plan.prescribed_by)
    summary = do_plan_followup(worker, dt.date(2026, 11, 21))
    assert summary.replanned == 1
    week_12.refresh_from_db()
    assert week_12.due_on == dt.date(2026, 12, 12) + dt.timedelta(weeks=12)
    assert week_12.version == 2
    assert AuditEvent.objects.filter(
        category=Category.FOLLOWUP, patient=patient, detail__event="follow-up re-planned"
    ).exists()
    # Every booking cancelled: nothing left to follow.
    plan.bookings.update(status="cancelled")
    assert do_plan_followup(worker, dt.date(2026, 11, 22)).cancelled == 1
    assert set(FollowUpTimePoint.objects.filter(plan=plan).values_list("status", flat=True)) == {
        TimePointStatus.CANCELLED
    }


def test_no_reminder_without_consent_or_after_it_is_withdrawn(db, worker, users):
    never = make_patient(given="Grace", family="Hopper", email="grace@example.org")
    series(never, users[Role.PHYSICIAN], DAYS)
    walk(worker, dt.date(2026, 11, 15), dt.date(2026, 11, 20))
    assert mail.outbox == []

    withdrawn = make_patient(given="Mary", family="Somerville", email="mary@example.org")
    granted(withdrawn, dt.date(2026, 11, 1), users[Role.FRONT_DESK])
    series(withdrawn, users[Role.PHYSICIAN], DAYS, chair_name="Chair F2")
    run_tick(worker, at(dt.date(2026, 11, 17)))
    assert [m.to for m in mail.outbox] == [["mary@example.org"]]
    consent_to_email(
        withdrawn, ConsentDecision.WITHDRAWN, dt.date(2026, 11, 17), users[Role.FRONT_DESK]
    )
    walk(worker, dt.date(2026, 11, 18), dt.date(2026, 11, 25))
    assert len(mail.outbox) == 1


def test_a_patient_without_an_address_gets_nothing_and_nothing_is_queued(db, worker, users):
    patient = make_patient(email="")
    granted(patient, dt.date(2026, 11, 1), users[Role.FRONT_DESK])
    series(patient, users[Role.PHYSICIAN], DAYS)
    walk(worker, dt.date(2026, 11, 15), dt.date(2026, 11, 20))
    assert mail.outbox == [] and not Reminder.objects.exists()


def test_no_reminder_once_the_time_point_is_answered(db, worker, followed):
    _patient, plan = followed
    run_tick(worker, at(dt.date(2026, 11, 17)))
    assert len(mail.outbox) == 1
    FollowUpTimePoint.objects.filter(plan=plan, key="baseline").update(
        status=TimePointStatus.COMPLETED
    )
    walk(worker, dt.date(2026, 11, 18), dt.date(2026, 11, 30))
    assert len(mail.outbox) == 1


def test_a_queued_reminder_is_withdrawn_if_answered_before_it_goes(db, worker, followed):
    _patient, plan = followed
    do_plan_followup(worker, dt.date(2026, 11, 17))
    assert do_queue_reminders(worker, at(dt.date(2026, 11, 17))) == 1
    FollowUpTimePoint.objects.filter(plan=plan, key="baseline").update(
        status=TimePointStatus.COMPLETED
    )
    reminder = Reminder.objects.get()
    assert do_claim_reminder(worker, reminder.pk, at(dt.date(2026, 11, 17))) is None
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.WITHDRAWN
    assert mail.outbox == []


def test_a_worker_stopped_while_sending_never_sends_that_reminder_again(db, worker, followed):
    _patient, _plan = followed
    now = at(dt.date(2026, 11, 17))
    do_plan_followup(worker, now.date())
    do_queue_reminders(worker, now)
    reminder = Reminder.objects.get()
    # The worker claims it and stops before it can record the outcome.
    assert do_claim_reminder(worker, reminder.pk, now) is not None
    # Restarted at once, and again after the lease: the reminder is never sent again.
    run_tick(worker, now + dt.timedelta(minutes=1))
    run_tick(worker, now + SENDING_LEASE + dt.timedelta(minutes=1))
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.UNCONFIRMED
    assert mail.outbox == []
    assert AuditEvent.objects.filter(detail__event="reminder unconfirmed").count() == 1
    # It counts: the next day's is the second of three, not a repeat of the first.
    run_tick(worker, at(dt.date(2026, 11, 18)))
    assert len(mail.outbox) == 1
    assert Reminder.objects.filter(status=ReminderStatus.SENT).get().number == 2


class FlakyServer(BaseEmailBackend):
    """A mail connection whose server fails the first ``failures`` messages."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.sent: list[str] = []
        self.closed = 0

    def open(self) -> bool:
        return True

    def close(self) -> None:
        self.closed += 1

    def send_messages(self, email_messages):
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("mail server not answering")
        for message in email_messages:
            self.sent.extend(message.to)
        return len(email_messages)


def test_a_transient_failure_is_retried_with_back_off(db, worker, followed, monkeypatch):
    from painclinic.web.followup import tasks

    server = FlakyServer(failures=1)
    monkeypatch.setattr(tasks, "mail_connection", lambda: server)
    now = at(dt.date(2026, 11, 17))
    run_tick(worker, now)
    reminder = Reminder.objects.get()
    assert reminder.status == ReminderStatus.RETRY and reminder.attempts == 1
    first_delay = POLICY.reminders.retry_after_minutes[0]
    assert reminder.next_attempt_at == pytest.approx(
        reminder.claimed_at + dt.timedelta(minutes=first_delay), abs=dt.timedelta(seconds=5)
    )
    run_tick(worker, now + dt.timedelta(minutes=first_delay - 1))  # not yet
    assert server.sent == []
    run_tick(worker, now + dt.timedelta(minutes=first_delay + 1))
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.SENT and reminder.attempts == 2
    assert len(server.sent) == 1


def test_a_batch_goes_over_one_connection_and_a_failure_retries_only_its_reminder(
    db, worker, users, monkeypatch
):
    from painclinic.web.followup import tasks

    patients = [make_patient(email=f"p{i}@example.org") for i in range(3)]
    for patient in patients:
        granted(patient, dt.date(2026, 11, 1), users[Role.FRONT_DESK])
        series(patient, users[Role.PHYSICIAN], DAYS)
    server = FlakyServer(failures=1)
    monkeypatch.setattr(tasks, "mail_connection", lambda: server)
    report = run_tick(worker, at(dt.date(2026, 11, 17)))
    assert (report.reminders_sent, report.reminders_failed) == (2, 1)
    # One connection for the batch: closed after the failure (to reconnect) and at the end.
    assert server.closed == 2
    statuses = Counter(Reminder.objects.values_list("status", flat=True))
    assert statuses == {ReminderStatus.SENT: 2, ReminderStatus.RETRY: 1}
    # Each patient's own audit trail shows their link and their reminder's outcome.
    for patient in patients:
        events = set(
            AuditEvent.objects.filter(patient=patient).values_list("detail__event", flat=True)
        )
        assert "questionnaire link issued" in events
        assert events & {"reminder sent", "reminder will be retried"}
    # The batch's events are sealed and linked like any others: the chain verifies.
    report = verify_chain()
    assert report.ok, report.reason
    assert report.checked == AuditEvent.objects.count()


def test_a_reminder_is_given_up_after_the_last_retry(db, worker, followed, monkeypatch):
    from painclinic.web.followup import tasks

    server = FlakyServer(failures=100)
    monkeypatch.setattr(tasks, "mail_connection", lambda: server)
    now = at(dt.date(2026, 11, 17))
    for minutes in (0, *(sum(POLICY.reminders.retry_after_minutes[: i + 1]) + 1 for i in range(3))):
        run_tick(worker, now + dt.timedelta(minutes=minutes))
    reminder = Reminder.objects.get(local_day=now.date())
    assert reminder.status == ReminderStatus.FAILED
    assert reminder.attempts == len(POLICY.reminders.retry_after_minutes) + 1
    assert "not answering" in reminder.last_error


def test_two_workers_ticking_at_once_queue_one_reminder(db, worker, followed):
    now = at(dt.date(2026, 11, 17))
    do_plan_followup(worker, now.date())
    assert do_queue_reminders(worker, now) == 1
    do_queue_reminders(worker, now)  # the second worker's tick, same day
    assert Reminder.objects.count() == 1
