"""Overdue-invoice reminders through the worker, walked day by day with a frozen clock.

Policy (``INVOICE_REMINDER_DAYS`` = 0, 14, 30): an invoice billed to the patient with a balance
gets one e-mail on its due date, one at 14 and one at 30 days overdue, never the same step
twice, none once paid; a payer's invoice, a patient without an e-mail address or without
e-mail consent is recorded as skipped with the reason (the billing home lists whom to call).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.accounts.services import system_actor
from painclinic.web.audit.chain import verify_chain
from painclinic.web.audit.models import AuditEvent, Category
from painclinic.web.billing.models import (
    OverdueReminder,
    OverdueReminderStatus,
    PayerKind,
    PaymentMethod,
)
from painclinic.web.billing.services import (
    CoverageInput,
    PayerInput,
    PaymentInput,
    do_add_coverage,
    do_add_payer,
    do_issue_session_invoice,
    do_record_payment,
)
from painclinic.web.billing.tasks import run_overdue_tick
from painclinic.web.lib.actor import Channel
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.patients.models import ConsentDecision
from tests.conftest import actor_as, logged_in_client, make_patient
from tests.web.billing.factories import signed_sessions, standard_fees
from tests.web.followup.factories import consent_to_email, granted

ISSUED = dt.date(2026, 12, 1)  # due 30 days later (INVOICE_DUE_DAYS)
DUE = ISSUED + dt.timedelta(days=30)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return to_utc(day, dt.time(hour, 0))


@pytest.fixture
def worker():
    return system_actor(Channel.WORKER, "test tick")


@pytest.fixture
def clerk(users):
    return actor_as(users[Role.BILLING])


@pytest.fixture
def billed(users, clerk, time_machine, settings):
    """A consenting patient's invoice for one ketamine session, issued on ISSUED."""
    settings.INVOICE_DUE_DAYS = 30
    settings.INVOICE_REMINDER_DAYS = (0, 14, 30)
    settings.INVOICE_REMINDERS_ENABLED = True
    time_machine.move_to(at(ISSUED), tick=False)
    standard_fees(actor_as(users[Role.CLINIC_ADMIN]))
    patient = make_patient(email="ada@example.org")
    granted(patient, ISSUED - dt.timedelta(days=60), users[Role.FRONT_DESK])
    session = signed_sessions(patient, users[Role.PHYSICIAN], users[Role.FRONT_DESK], count=1)[0]
    invoice = do_issue_session_invoice(clerk, patient.pk, [session.pk]).patient_invoice
    assert invoice.due_on == DUE
    return patient, invoice


def tick_on(worker, time_machine, day: dt.date, hour: int = 10):
    time_machine.move_to(at(day, hour), tick=False)
    return run_overdue_tick(worker, at(day, hour))


def mails_for(invoice):
    return [m for m in mail.outbox if invoice.display_number in m.subject]


def test_one_reminder_a_step_on_day_0_14_and_30_never_twice(db, worker, billed, time_machine):
    _, invoice = billed
    day = ISSUED
    while day <= DUE + dt.timedelta(days=45):
        for hour in (8, 10, 16):  # three ticks a day
            tick_on(worker, time_machine, day, hour)
        day += dt.timedelta(days=1)
    rows = list(OverdueReminder.objects.filter(invoice=invoice).order_by("sequence"))
    assert [(r.sequence, r.claimed_at.date(), r.status) for r in rows] == [
        (1, at(DUE, 8).date(), OverdueReminderStatus.SENT),
        (2, at(DUE + dt.timedelta(days=14), 8).date(), OverdueReminderStatus.SENT),
        (3, at(DUE + dt.timedelta(days=30), 8).date(), OverdueReminderStatus.SENT),
    ]
    sent = mails_for(invoice)
    assert len(sent) == 3
    assert all(m.to == ["ada@example.org"] for m in sent)


def test_nothing_before_the_due_date(db, worker, billed, time_machine):
    _, invoice = billed
    report = tick_on(worker, time_machine, DUE - dt.timedelta(days=1))
    assert report.sent == 0 and not mails_for(invoice)
    assert not OverdueReminder.objects.exists()
    assert tick_on(worker, time_machine, DUE).sent == 1


def test_an_invoice_first_seen_long_overdue_gets_one_reminder_not_three(
    db, worker, billed, time_machine
):
    _, invoice = billed
    tick_on(worker, time_machine, DUE + dt.timedelta(days=40))
    tick_on(worker, time_machine, DUE + dt.timedelta(days=41))
    assert list(OverdueReminder.objects.values_list("sequence", flat=True)) == [3]
    assert len(mails_for(invoice)) == 1


def test_none_once_paid(db, worker, billed, clerk, time_machine):
    _, invoice = billed
    assert tick_on(worker, time_machine, DUE).sent == 1
    time_machine.move_to(at(DUE + dt.timedelta(days=3)), tick=False)
    do_record_payment(
        clerk, invoice.pk, PaymentInput(amount_cents=invoice.total_cents, method=PaymentMethod.CASH)
    )
    for days in (14, 30, 60):
        tick_on(worker, time_machine, DUE + dt.timedelta(days=days))
    assert len(mails_for(invoice)) == 1
    assert OverdueReminder.objects.count() == 1


def test_the_email_names_invoice_dates_balance_and_how_to_pay_and_nothing_clinical(
    db, worker, billed, time_machine, settings
):
    _, invoice = billed
    tick_on(worker, time_machine, DUE)
    (message,) = mails_for(invoice)
    assert (
        message.subject
        == f"Invoice {invoice.display_number} from {settings.CLINIC_NAME}: balance due"
    )
    body = message.body
    assert invoice.display_number in body
    assert "Issued: 2026-12-01" in body and "Due: 2026-12-31" in body
    # The session $450.00, supplies $25.50 and the plan's first-invoice fee $250.00.
    assert invoice.total_cents == 72_550 and "Balance due: $725.50" in body
    assert settings.CLINIC_PHONE in body and settings.CLINIC_EMAIL in body
    # The invoice's lines name the drug; the e-mail does not.
    assert any("ketamine" in line.description.lower() for line in invoice.lines.all())
    for word in ("ketamine", "infusion", "lidocaine", "session", "pain"):
        assert word not in body.lower().replace(settings.CLINIC_NAME.lower(), "")


def test_a_payers_invoice_is_listed_to_chase_not_emailed(
    db, worker, users, clerk, time_machine, settings
):
    settings.INVOICE_REMINDER_DAYS = (0, 14, 30)
    time_machine.move_to(at(ISSUED), tick=False)
    standard_fees(actor_as(users[Role.CLINIC_ADMIN]))
    patient = make_patient(email="ben@example.org")
    granted(patient, ISSUED - dt.timedelta(days=60), users[Role.FRONT_DESK])
    payer = do_add_payer(clerk, PayerInput(name="Northern Mutual", kind=PayerKind.PRIVATE_PLAN))
    coverage = do_add_coverage(
        clerk,
        patient.pk,
        CoverageInput(payer_id=payer.pk, payer_share_basis_points=8_000, member_id="M-7"),
    )
    session = signed_sessions(patient, users[Role.PHYSICIAN], users[Role.FRONT_DESK], count=1)[0]
    result = do_issue_session_invoice(clerk, patient.pk, [session.pk], coverage_id=coverage.pk)
    report = tick_on(worker, time_machine, result.payer_invoice.due_on)
    assert report.sent == 1 and report.skipped == 1
    assert not mails_for(result.payer_invoice)
    assert len(mails_for(result.patient_invoice)) == 1
    skipped = OverdueReminder.objects.get(invoice=result.payer_invoice)
    assert skipped.status == OverdueReminderStatus.SKIPPED
    assert skipped.detail == "Billed to Northern Mutual: follow up by phone or fax."


@pytest.mark.parametrize(
    ("email", "decision", "reason"),
    [
        ("ada@example.org", ConsentDecision.DECLINED, "No consent to e-mail: call the patient."),
        ("", ConsentDecision.GRANTED, "No e-mail address on file: call the patient."),
    ],
)
def test_no_email_consent_or_address_is_skipped_with_the_reason(
    db, worker, billed, users, time_machine, email, decision, reason
):
    patient, invoice = billed
    patient.email = email
    patient.save(update_fields=["email"])
    consent_to_email(patient, decision, ISSUED, users[Role.FRONT_DESK])
    tick_on(worker, time_machine, DUE)
    tick_on(worker, time_machine, DUE + dt.timedelta(days=1))
    assert not mail.outbox
    (row,) = OverdueReminder.objects.filter(invoice=invoice)
    assert (row.status, row.detail, row.sequence) == (OverdueReminderStatus.SKIPPED, reason, 1)


def test_each_reminder_is_audited_against_its_patient(db, worker, billed, time_machine):
    patient, invoice = billed
    tick_on(worker, time_machine, DUE)
    events = list(
        AuditEvent.objects.filter(category=Category.BILLING, patient=patient).order_by("sequence")
    )
    details = [
        e.detail.get("event") for e in events if e.detail.get("invoice") == invoice.display_number
    ]
    assert details[-2:] == ["overdue reminder claimed", "overdue reminder sent"]
    assert verify_chain().ok


def test_switched_off_sends_nothing(db, worker, billed, time_machine, settings):
    settings.INVOICE_REMINDERS_ENABLED = False
    tick_on(worker, time_machine, DUE + dt.timedelta(days=30))
    assert not mail.outbox and not OverdueReminder.objects.exists()


def test_worker_once_sends_due_reminders(db, billed, time_machine, monkeypatch, capsys):
    from painclinic.cli.worker import worker as worker_command
    from painclinic.web.lib import startup

    _, invoice = billed
    monkeypatch.setattr(startup, "startup_refusal", lambda: None)  # start-up has its own tests
    time_machine.move_to(at(DUE + dt.timedelta(days=14)), tick=False)
    worker_command(once=True)
    assert "overdue invoices: 1 reminders sent" in capsys.readouterr().out
    assert len(mails_for(invoice)) == 1
    assert OverdueReminder.objects.get(invoice=invoice).sequence == 2


def test_billing_home_lists_the_last_reminder_and_whom_to_call(
    db, worker, billed, users, time_machine
):
    tick_on(worker, time_machine, DUE)
    other = make_patient("Ben", "Okafor")  # no e-mail on file
    time_machine.move_to(at(ISSUED), tick=False)
    session = signed_sessions(other, users[Role.PHYSICIAN], users[Role.FRONT_DESK], count=1)[0]
    second = do_issue_session_invoice(actor_as(users[Role.BILLING]), other.pk, [session.pk])
    tick_on(worker, time_machine, DUE + dt.timedelta(days=2))
    page = logged_in_client(users[Role.BILLING]).get(reverse("billing:home"))
    text = page.content.decode()
    assert "Overdue reminders" in text
    assert "No e-mail address on file: call the patient." in text
    assert second.patient_invoice.display_number in text
    assert "E-mailed" in text and "2026-12-31" in text
    assert "skipped" not in text and "claimed" not in text  # labels, not internal codes
