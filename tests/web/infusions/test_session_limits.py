"""A running session's rate change is checked on the whole session (issue 11): what it gave so
far plus what the new rate would give to the planned end, against the drug library's session
limits (lidocaine: at most 500 mg a session, published by RCH and the Pain Med 2018 series).

The patient is 80 kg, 170 cm, female (ideal body weight 65 kg); the plan is 5 mg/kg over 60 min,
400 mg/h. After 30 min at 400 mg/h, 200 mg are given; the remaining 30 min at 700 mg/h would
add 350 mg (550 mg in the session), at 500 mg/h 250 mg (450 mg).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent, Outcome
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import RateChangeInput, StartInput
from painclinic.web.infusions.models import InfusionSession, RateSegment
from painclinic.web.lib.service import HardLimitRefused
from tests.web.infusions.conftest import (
    charted_at,
    check_input,
    checklist_input,
    fresh,
    make_booking,
    make_plan,
    make_request,
    prep_input,
)

pytestmark = pytest.mark.django_db


def running_lidocaine(patient, physician, nurse, nurse2, users, start) -> InfusionSession:
    plan = make_plan(patient, physician, protocol_id="lid-5mgkg-60min")
    s = services.do_open_session(make_request(nurse), make_booking(plan, users[Role.FRONT_DESK]).pk)
    with charted_at(start - dt.timedelta(minutes=5)):
        services.do_complete_checklist(make_request(nurse), s.pk, 1, checklist_input())
        step = fresh(s).planned_session.steps[0]
        entry = {
            "drug": "lidocaine",
            "bag_concentration_mg_per_ml": Decimal("4"),
            "dose_value": Decimal(str(step["rate_mg_per_h"])),
            "pump_rate_entered_ml_per_h": Decimal(str(step["rate_ml_per_h"])),
        }
        s = fresh(s)
        services.do_prepare_bag(
            make_request(nurse),
            s.pk,
            s.version,
            prep_input(vial_concentration_mg_per_ml=Decimal("20"), vial_lot="LID-1", **entry),
        )
        s = fresh(s)
        services.do_double_check(make_request(nurse2), s.pk, s.version, check_input(**entry))
    s = fresh(s)
    with charted_at(start):
        services.do_start(make_request(nurse), s.pk, s.version, StartInput(start))
    return fresh(s)


@pytest.fixture
def times():
    now = timezone.now().replace(second=0, microsecond=0)
    return now - dt.timedelta(minutes=40), now - dt.timedelta(minutes=10)


def test_a_rate_change_that_takes_the_session_past_500_mg_is_refused_and_audited(
    patient, physician, nurse, nurse2, users, times
):
    start, change_at = times
    s = running_lidocaine(patient, physician, nurse, nurse2, users, start)
    assert s.planned_session.steps[0]["rate_mg_per_h"] == pytest.approx(400)
    before = AuditEvent.objects.count()
    with charted_at(change_at), pytest.raises(HardLimitRefused) as refused:
        # 700 mg/h alone is under every rate limit (hard 1,000 mg/h) and 350 mg to the end
        # is under 500 mg: only the whole session (200 + 350 mg) crosses the cap.
        services.do_change_rate(
            make_request(nurse),
            s.pk,
            s.version,
            RateChangeInput(change_at, Decimal(700), "mg/h", limit_reason="a reason lifts nothing"),
        )
    error = refused.value
    assert "whole session" in error.message and "500 mg" in error.message
    assert error.detail["session_total_mg"] == pytest.approx(550)
    assert error.detail["limit_quantity"] == "session_total_mg" and error.detail["limit"] == 500
    assert RateSegment.objects.filter(session=s).count() == 1  # nothing changed
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == Outcome.DENIED and event.detail["limit"] == 500


def test_a_rate_change_that_keeps_the_session_under_its_limits_is_accepted(
    patient, physician, nurse, nurse2, users, times
):
    start, change_at = times
    s = running_lidocaine(patient, physician, nurse, nurse2, users, start)
    with charted_at(change_at):
        # 200 + 250 = 450 mg: 6.9 mg/kg of the 65 kg ideal weight, within 7.5 mg/kg.
        segment = services.do_change_rate(
            make_request(nurse), s.pk, s.version, RateChangeInput(change_at, Decimal(500), "mg/h")
        )
    assert segment.rate_mg_per_h == Decimal(500) and segment.limit_status == "within"
