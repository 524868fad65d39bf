"""The demo's follow-up: the portal patient's 1-week questionnaire is due today, and the
worker's first tick after 09:00 sends its reminder (what a newcomer sees after make run)."""

from __future__ import annotations

import datetime as dt

from django.core import mail

from painclinic.web.accounts.services import system_actor
from painclinic.web.audit.chain import verify_chain
from painclinic.web.demo.followup import load_followup_demo
from painclinic.web.demo.registry import load_demo
from painclinic.web.demo.treatment import load_treatment_demo
from painclinic.web.followup.models import FollowUpTimePoint, TimePointStatus
from painclinic.web.followup.tasks import run_tick
from painclinic.web.lib.actor import Channel


def test_the_demo_patient_has_a_questionnaire_due_and_a_reminder_goes_out(db, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC))  # 08:00 in Toronto
    load_demo(password="demo-password-1234", patient_count=5)
    load_treatment_demo(patient_count=1)
    assert load_followup_demo() == 7
    assert load_followup_demo() == 0  # idempotent
    points = {
        p.key: p for p in FollowUpTimePoint.objects.filter(patient__portal_user__username="patient")
    }
    assert points["baseline"].status == TimePointStatus.COMPLETED
    assert points["end_of_series"].status == TimePointStatus.COMPLETED
    assert points["week_1"].due_on == dt.date(2026, 11, 25)
    worker = system_actor(Channel.WORKER, "test")
    assert run_tick(worker).reminders_sent == 0  # before the clinic's 09:00
    time_machine.move_to(dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC))
    run_tick(worker)
    # Jordan's 1-week reminder (the treatment demo's patients get their baseline's too).
    (message,) = [m for m in mail.outbox if m.to == ["jordan.whitfield@example.com"]]
    assert "/f/" in message.body
    assert verify_chain().ok
