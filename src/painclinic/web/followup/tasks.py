"""The follow-up worker's work: one tick plans follow-up, queues reminders and sends them.

``run_followup_tick`` is a Django task (``django.tasks``), enqueued on the database-backed
queue by ``painclinic worker`` every ``WORKER_TICK_SECONDS`` and run by the same worker. It
acts as the system user through the worker channel and calls the follow-up services exactly
as a command would; it never builds a request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.tasks import task
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from painclinic.web.followup.services import (
    REMINDER_BATCH,
    ClaimedReminder,
    ReminderOutcome,
    do_claim_reminders,
    do_plan_followup,
    do_queue_reminders,
    do_record_reminder_outcomes,
    sendable_reminder_ids,
)
from painclinic.web.lib.actor import Actor, Channel
from painclinic.web.lib.clinictime import to_local

CRISIS_LINE = gettext_lazy(
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


# The clinic does not record a patient's language: a reminder is written in English and in
# French, each part complete (subject in both).
EMAIL_LANGUAGES = ("en-ca", "fr-ca")


def reminder_email(claimed: ClaimedReminder, link: str | None = None) -> tuple[str, str]:
    """Subject and body of a reminder: who it is for, what is due and until when, and a
    single-use link to that time point's questionnaires; no health information beyond that the
    patient is followed by the clinic. In English, then in French."""
    subjects, bodies = [], []
    for language in EMAIL_LANGUAGES:
        with translation.override(language):
            subject, body = _reminder_text(claimed, link)
        subjects.append(subject)
        bodies.append(body)
    return " / ".join(subjects), "\n----------\n\n".join(bodies)


def _reminder_text(claimed: ClaimedReminder, link: str | None) -> tuple[str, str]:
    """The reminder in the active language."""
    portal = settings.PUBLIC_BASE_URL.rstrip("/") + "/portal/"
    closes = date_format(claimed.closes_on, "l j F Y")
    subject = str(_("Your follow-up questionnaire is ready"))
    opening = (
        _(
            "Open your questionnaire (this link works once, for this questionnaire only):\n"
            "%(link)s\n\nOr sign in to your patient portal: %(portal)s\n\n"
        )
        % {"link": link, "portal": portal}
        if link
        else _("Sign in to your patient portal: %(portal)s\n\n") % {"portal": portal}
    )
    body = (
        _("Hello %(name)s,\n\n") % {"name": claimed.patient_name}
        + _(
            'Your questionnaire "%(label)s" is ready. It takes about 10 minutes; please '
            "complete it by %(closes)s.\n\n"
        )
        % {"label": claimed.time_point_label, "closes": closes}
        + opening
        + f"{CRISIS_LINE}\n\n"
        + _(
            "You receive this because you agreed to e-mail from the clinic. To stop these "
            "messages, tell the front desk.\n"
        )
    )
    return subject, body


def reminder_message(claimed: ClaimedReminder) -> EmailMessage:
    """The e-mail of one claimed reminder, with its single-use link when one was issued."""
    link = link_url(claimed.link_token) if claimed.link_token else None
    subject, body = reminder_email(claimed, link)
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [claimed.to_address])


def send_batch(claimed: list[ClaimedReminder]) -> list[ReminderOutcome]:
    """Send a batch of reminders over one mail-server connection; each one's outcome.

    A refused address is a permanent failure; anything else (the server down or slow) is
    transient, tried again later, and the connection is opened afresh for the next message.
    """
    return deliver([(one.reminder_id, reminder_message(one)) for one in claimed])


def deliver(messages: Sequence[tuple[int, EmailMessage]]) -> list[ReminderOutcome]:
    """Send ``(reminder id, message)`` pairs over one connection of the default mailer; each
    one's outcome (as :func:`send_batch`). Billing's overdue-invoice reminders go this way too."""
    outcomes = []
    connection = mail_connection()
    try:
        for reminder_id, message in messages:
            try:
                connection.open()  # kept open for the batch (a no-op once it is)
                connection.send_messages([message])
            except smtplib.SMTPRecipientsRefused as error:
                outcomes.append(ReminderOutcome(reminder_id, f"address refused: {error}", True))
            except (OSError, smtplib.SMTPException) as error:
                outcomes.append(ReminderOutcome(reminder_id, f"{type(error).__name__}: {error}"))
                _close_quietly(connection)
            else:
                outcomes.append(ReminderOutcome(reminder_id))
    finally:
        _close_quietly(connection)
    return outcomes


def mail_connection() -> BaseEmailBackend:
    """A new connection of the default mailer (``settings.MAILERS``), for one batch."""
    return mailers.default


def _close_quietly(connection: BaseEmailBackend) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException):
        connection.close()


def reminder_batch_size() -> int:
    """Reminders per batch: ``settings.FOLLOWUP_REMINDER_BATCH``
    (``PAINCLINIC_FOLLOWUP_REMINDER_BATCH``), never above ``REMINDER_BATCH``."""
    return max(1, min(int(settings.FOLLOWUP_REMINDER_BATCH), REMINDER_BATCH))


def run_tick(actor: Actor, now: dt.datetime | None = None) -> TickReport:
    """One tick of the follow-up worker (also ``painclinic worker --once``).

    Reminders go in batches: one transaction claims a batch and issues its links, the e-mails
    go over one connection, one transaction records their outcomes. ``now`` freezes the tick's
    clock (tests walk a series day by day); by default each step reads the real clock.
    """

    def clock() -> dt.datetime:
        return now if now is not None else timezone.now()

    now_at_start = clock()
    planned = do_plan_followup(actor, to_local(now_at_start).date())
    queued = do_queue_reminders(actor, now_at_start)
    sent = failed = 0
    ids = sendable_reminder_ids(now_at_start)
    size = reminder_batch_size()
    for start in range(0, len(ids), size):
        claimed = do_claim_reminders(actor, ids[start : start + size], clock())
        if not claimed:
            continue
        outcomes = send_batch(claimed)
        statuses = do_record_reminder_outcomes(actor, outcomes, clock())
        sent += sum(1 for status in statuses.values() if status == "sent")
        failed += sum(1 for status in statuses.values() if status != "sent")
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
