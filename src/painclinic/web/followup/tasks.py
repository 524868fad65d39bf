"""The follow-up worker's work: one tick plans follow-up, queues reminders and sends them.

``run_followup_tick`` is a Django task (``django.tasks``), enqueued on the database-backed
queue by ``painclinic worker`` every ``WORKER_TICK_SECONDS`` and run by the same worker. It
acts as the system user through the worker channel and calls the follow-up services exactly
as a command would; it never builds a request.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.utils import timezone

from painclinic.web.followup.services import (
    ClaimedReminder,
    do_claim_reminder,
    do_issue_link,
    do_plan_followup,
    do_queue_reminders,
    do_record_reminder_outcome,
    sendable_reminder_ids,
)
from painclinic.web.lib.actor import Actor, Channel
from painclinic.web.lib.clinictime import to_local
from painclinic.web.lib.service import Refused

CRISIS_LINE = (
    "If you are thinking of harming yourself, call or text 9-8-8 (Suicide Crisis Helpline) "
    "now, or 911 in an emergency."
)


@dataclass(frozen=True)
class TickReport:
    series_planned: int
    series_replanned: int
    reminders_queued: int
    reminders_sent: int
    reminders_failed: int


def link_url(token: str) -> str:
    """The address of a single-use questionnaire link (the clinic's public address)."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + f"/f/{token}/"


def reminder_email(claimed: ClaimedReminder, link: str | None = None) -> tuple[str, str]:
    """Subject and body of a reminder: who it is for, what is due and until when, and a
    single-use link to that time point's questionnaires; no health information beyond that the
    patient is followed by the clinic."""
    portal = settings.PUBLIC_BASE_URL.rstrip("/") + "/portal/"
    closes = claimed.closes_on.strftime("%A %-d %B %Y")
    subject = "Your follow-up questionnaire is ready"
    opening = (
        f"Open your questionnaire (this link works once, for this questionnaire only):\n{link}\n\n"
        f"Or sign in to your patient portal: {portal}\n\n"
        if link
        else f"Sign in to your patient portal: {portal}\n\n"
    )
    body = (
        f"Hello {claimed.patient_name},\n\n"
        f'Your questionnaire "{claimed.time_point_label}" is ready. It takes about '
        f"10 minutes; please complete it by {closes}.\n\n"
        f"{opening}"
        f"{CRISIS_LINE}\n\n"
        "You receive this because you agreed to e-mail from the clinic. To stop these "
        "messages, tell the front desk.\n"
    )
    return subject, body


def _send(claimed: ClaimedReminder, link: str | None = None) -> tuple[str, bool]:
    """Send one reminder: ("", False) when it went; (error, permanent) when it did not."""
    subject, body = reminder_email(claimed, link)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [claimed.to_address])
    except smtplib.SMTPRecipientsRefused as error:
        return f"address refused: {error}", True
    except (OSError, smtplib.SMTPException) as error:  # a server down or slow: try again later
        return f"{type(error).__name__}: {error}", False
    return "", False


def run_tick(actor: Actor, now: dt.datetime | None = None) -> TickReport:
    """One tick of the follow-up worker (also ``painclinic worker --once``).

    ``now`` freezes the tick's clock (tests walk a series day by day); by default each step
    reads the real clock, so a long batch records when each e-mail really went.
    """

    def clock() -> dt.datetime:
        return now if now is not None else timezone.now()

    now_at_start = clock()
    planned = do_plan_followup(actor, to_local(now_at_start).date())
    queued = do_queue_reminders(actor, now_at_start)
    sent = failed = 0
    for reminder_id in sendable_reminder_ids(now_at_start):
        claimed = do_claim_reminder(actor, reminder_id, clock())
        if claimed is None:
            continue
        # A new single-use link goes with each reminder (it replaces the one sent before).
        try:
            link = link_url(do_issue_link(actor, claimed.time_point_id, clock()).token)
        except Refused:
            link = None
        error, permanent = _send(claimed, link)
        status = do_record_reminder_outcome(
            actor, reminder_id, clock(), error=error, permanent=permanent
        )
        if status == "sent":
            sent += 1
        else:
            failed += 1
    return TickReport(
        series_planned=planned.created,
        series_replanned=planned.replanned,
        reminders_queued=queued,
        reminders_sent=sent,
        reminders_failed=failed,
    )


@task()
def run_followup_tick() -> dict[str, int]:
    """The queued task: one tick as the system user, through the worker channel."""
    from painclinic.web.accounts.services import system_actor

    report = run_tick(system_actor(Channel.WORKER, "followup tick"))
    return {
        "series_planned": report.series_planned,
        "series_replanned": report.series_replanned,
        "reminders_queued": report.reminders_queued,
        "reminders_sent": report.reminders_sent,
        "reminders_failed": report.reminders_failed,
    }
