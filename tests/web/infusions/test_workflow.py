"""The infusion day end to end through the services, and each rule fired and not fired."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.infusions import services
from painclinic.web.infusions.chart import build_chart, summary_text
from painclinic.web.infusions.inputs import (
    AcknowledgeInput,
    NoteInput,
    ObservationInput,
    StopInput,
)
from painclinic.web.infusions.models import (
    Alert,
    SessionNote,
    SessionStatus,
)
from painclinic.web.infusions.rules import Refused
from tests.web.infusions.conftest import (
    charted_at,
    discharge_input,
    fresh,
    make_booking,
    make_request,
    recover_and_discharge,
    run_to,
    waste_remainder,
)

pytestmark = pytest.mark.django_db

OBS = {
    "systolic_bp_mmhg": 130,
    "diastolic_bp_mmhg": 80,
    "heart_rate_bpm": 75,
    "respiratory_rate_per_min": 14,
    "spo2_percent": 97,
    "rass": 0,
    "symptoms": [],
}


def obs(at, **overrides):
    return {**OBS, "observed_at": at, **overrides}


ALDRETE_OK = {
    "activity": 2,
    "respiration": 2,
    "circulation": 2,
    "consciousness": 2,
    "oxygen_saturation": 2,
}


def test_full_day(plan, users, nurse, nurse2, physician):
    # Stopped 4 h after the start, 40 min ago: 30 min of recovery before the discharge.
    start = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=4, minutes=40)
    booking = make_booking(plan, users[Role.FRONT_DESK], starts_at=start)
    with charted_at(start - dt.timedelta(minutes=20)):  # on the booking's day
        session = services.do_open_session(make_request(nurse), booking.pk)
    s = run_to(session, "running", nurse, nurse2, start_at=start)
    assert s.status == SessionStatus.RUNNING
    for minutes in (0, 15, 30, 45, 60):
        s = fresh(s)
        services.do_record_observation(
            make_request(nurse),
            s.pk,
            s.version,
            ObservationInput(**obs(start + dt.timedelta(minutes=minutes))),
        )
    s = fresh(s)
    services.do_record_observation(
        make_request(nurse),
        s.pk,
        s.version,
        ObservationInput(
            **obs(start + dt.timedelta(minutes=90), systolic_bp_mmhg=190, diastolic_bp_mmhg=100)
        ),
    )
    alert = Alert.objects.get(session=s)
    assert alert.action == "pause"
    s = fresh(s)
    with pytest.raises(Refused, match="not acknowledged"):
        services.do_stop(
            make_request(nurse), s.pk, s.version, StopInput(start + dt.timedelta(minutes=95))
        )
    s = fresh(s)
    services.do_acknowledge_alert(
        make_request(nurse),
        s.pk,
        s.version,
        alert.pk,
        AcknowledgeInput(
            response="reduce_rate",
            action_taken="Physician informed",
            dose_value=Decimal("15"),
            dose_unit="mg/h",
            at=start + dt.timedelta(minutes=92),
        ),
    )
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    assert "15 mg/h" in alert.action_taken
    assert alert.rate_segment.rate_mg_per_h == Decimal("15")
    s = fresh(s)
    stop_at = start + dt.timedelta(minutes=240)
    services.do_stop(make_request(nurse), s.pk, s.version, StopInput(stop_at))
    chart = build_chart(fresh(s))
    expected = Decimal(25) * Decimal(92) / 60 + Decimal(15) * Decimal(148) / 60
    assert abs(chart.delivered_mg - expected) < Decimal("0.0001")
    s = fresh(s)
    with pytest.raises(Refused, match="recovery"):
        services.do_discharge(
            make_request(nurse), s.pk, s.version, discharge_input(stop_at + dt.timedelta(minutes=5))
        )
    discharge = recover_and_discharge(s, nurse, stop_at)
    assert discharge.padss_score == 10 and discharge.criteria["ready"] is True
    entry = waste_remainder(s, nurse, nurse2)
    assert entry.amount_mg == (Decimal(100) - expected).quantize(Decimal("0.01"))
    s = fresh(s)
    text = summary_text(build_chart(s))
    assert "Delivered" in text
    services.do_save_note(make_request(physician), s.pk, s.version, NoteInput(text, sign=True))
    s = fresh(s)
    assert s.status == SessionStatus.SIGNED
    note = SessionNote.objects.get(session=s)
    assert note.signed_by == physician
