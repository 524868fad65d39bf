"""The demo's treatment activity goes through the real services and fills the chair board."""

from __future__ import annotations

import datetime as dt

from painclinic.web.assessments.models import ChecklistItem, EligibilityDecision
from painclinic.web.audit.chain import verify_chain
from painclinic.web.demo.registry import load_demo
from painclinic.web.demo.treatment import load_treatment_demo
from painclinic.web.scheduling.models import Booking
from painclinic.web.treatments.models import PlanStatus, TreatmentPlan


def test_demo_builds_active_plans_with_booked_series_and_is_rerunnable(db, time_machine):
    # A Wednesday morning in Toronto: the series start today.
    time_machine.move_to(dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC))
    load_demo(password="demo-password-1234", patient_count=10)
    summary = load_treatment_demo(patient_count=3)
    assert summary.plans == 3
    plans = TreatmentPlan.objects.filter(status=PlanStatus.ACTIVE)
    assert plans.count() == 3
    for plan in plans:
        assert plan.sessions.count() == 5
        assert Booking.objects.filter(plan=plan).count() == 5
        assert EligibilityDecision.objects.filter(patient=plan.patient, drug="ketamine").exists()
    # The engine's missing information (no ECG with cardiac risk factors) became checklist
    # items; the first patient's was resolved with a note, the last one's is left open so that
    # the block of a first infusion can be seen.
    items = ChecklistItem.objects.filter(rule_id="KET-MISS-001").order_by("patient_id")
    assert items.count() == 2
    resolved, still_open = items
    assert resolved.resolved_at is not None and "ECG" in resolved.resolution_note
    assert resolved.resolved_by.username == "physician"
    assert still_open.resolved_at is None
    again = load_treatment_demo(patient_count=3)
    assert again.plans == 3  # three more patients, in the chairs and times still free
    assert TreatmentPlan.objects.count() == 6
    starts = list(Booking.objects.values_list("chair_id", "starts_at"))
    assert len(starts) == len(set(starts)) == 30
    assert verify_chain().ok


def test_demo_run_late_in_the_day_books_from_the_next_weekday(db, time_machine):
    # Friday 18:00 in Toronto: nothing can start today, so the series start on Monday.
    time_machine.move_to(dt.datetime(2026, 11, 27, 23, 0, tzinfo=dt.UTC))
    load_demo(password="demo-password-1234", patient_count=6)
    assert load_treatment_demo(patient_count=2).plans == 2
    first = Booking.objects.order_by("starts_at").first()
    assert first is not None
    assert first.starts_at.astimezone(dt.UTC).date() == dt.date(2026, 11, 30)
