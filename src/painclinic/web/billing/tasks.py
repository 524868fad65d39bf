"""The billing worker's work: e-mail the overdue-invoice reminders that are due.

``run_overdue_tick`` runs in ``painclinic worker`` beside the follow-up tick (the worker puts
``run_billing_tick`` on the same database-backed task queue) and in ``painclinic worker --once``.
It acts as the system user and sends through the follow-up worker's mail path
(``followup.tasks.deliver``: one connection of the default mailer per batch).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.tasks import task
from django.utils import timezone

from painclinic.web.billing.services import (
    OVERDUE_BATCH,
    ClaimedOverdueReminder,
    OverdueOutcome,
    do_claim_overdue_reminders,
    do_record_overdue_outcomes,
    dollars,
)
from painclinic.web.followup.tasks import deliver
from painclinic.web.lib.actor import Actor, Channel

# A safety stop: claims per tick (each claim takes up to OVERDUE_BATCH invoices).
MAX_BATCHES_PER_TICK = 50


@dataclass(frozen=True)
class OverdueTickReport:
    sent: int
    failed: int
    skipped: int


def overdue_email(claimed: ClaimedOverdueReminder) -> tuple[str, str]:
    """Subject and body of an overdue reminder: the clinic, the invoice's number, dates and
    balance, and how to pay. Nothing clinical (no service, drug or diagnosis): the patient
    already has the invoice."""
    clinic = settings.CLINIC_NAME
    subject = f"Invoice {claimed.invoice_number} from {clinic}: balance due"
    body = (
        f"Hello {claimed.patient_name},\n\n"
        f"Our records show a balance on invoice {claimed.invoice_number} from {clinic}:\n\n"
        f"  Invoice: {claimed.invoice_number}\n"
        f"  Issued: {claimed.issued_on:%Y-%m-%d}\n"
        f"  Due: {claimed.due_on:%Y-%m-%d}\n"
        f"  Balance due: {dollars(claimed.balance_cents)}\n\n"
        f"To pay, or if you have a question about this invoice, call us at "
        f"{settings.CLINIC_PHONE} or write to {settings.CLINIC_EMAIL}; you can also pay at the "
        "front desk. If you paid in the last few days, thank you: please ignore this message.\n\n"
        f"{clinic}\n{settings.CLINIC_ADDRESS}\n\n"
        "You receive this because you agreed to e-mail from the clinic. To stop these "
        "messages, tell the front desk.\n"
    )
    return subject, body


def overdue_message(claimed: ClaimedOverdueReminder) -> EmailMessage:
    subject, body = overdue_email(claimed)
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [claimed.to_address])


def run_overdue_tick(actor: Actor, now: dt.datetime | None = None) -> OverdueTickReport:
    """Claim, e-mail and record the due overdue reminders, a batch at a time (also
    ``painclinic worker --once``). Nothing when ``INVOICE_REMINDERS_ENABLED`` is off."""
    sent = failed = skipped = 0
    if not settings.INVOICE_REMINDERS_ENABLED:
        return OverdueTickReport(0, 0, 0)
    for _ in range(MAX_BATCHES_PER_TICK):
        claim = do_claim_overdue_reminders(actor, now or timezone.now(), OVERDUE_BATCH)
        skipped += claim.skipped
        if not claim.claimed and not claim.skipped:
            break
        if claim.claimed:
            results = deliver([(one.reminder_id, overdue_message(one)) for one in claim.claimed])
            statuses = do_record_overdue_outcomes(
                actor,
                [OverdueOutcome(r.reminder_id, r.error) for r in results],
                now or timezone.now(),
            )
            sent += sum(1 for status in statuses.values() if status == "sent")
            failed += sum(1 for status in statuses.values() if status == "failed")
    return OverdueTickReport(sent=sent, failed=failed, skipped=skipped)


@task()
def run_billing_tick() -> dict[str, int]:
    """The queued task: one overdue-reminder tick as the system user, through the worker."""
    from painclinic.web.accounts.services import system_actor

    report = run_overdue_tick(system_actor(Channel.WORKER, "billing tick"))
    return {"sent": report.sent, "failed": report.failed, "skipped": report.skipped}
