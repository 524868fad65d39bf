"""The dose over any 24 hours, across the patient's sessions, held to the drug library's 24-hour
limits at the double check, the start, a resume and every rate change.

Ketamine's 24-hour outpatient soft limit is 100 mg (one session a day: clinic policy) and its
outpatient hard limit 160 mg (one session of at most the session hard limit); lidocaine's hard
limit is 500 mg. Each test charts two sessions on consecutive clinic
days, less than 24 hours apart, each step at its own time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.audit.models import AuditEvent, Outcome
from painclinic.web.infusions import services
from painclinic.web.infusions.cumulative import Delivery, worst_window
from painclinic.web.infusions.inputs import RateChangeInput, StartInput, StopInput
from painclinic.web.infusions.models import (
    BagPreparation,
    DoubleCheck,
    InfusionSession,
    PreparationStatus,
    RateSegment,
    SessionStatus,
)
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.lib.service import HardLimitRefused, Refused
from painclinic.web.treatments.models import TreatmentPlan
from tests.conftest import logged_in_client
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

LIDOCAINE = "lid-5mgkg-60min"  # 5 mg/kg over 60 min: 400 mg at 80 kg


TODAY: dt.date = dt.date.min


@pytest.fixture(autouse=True)
def today() -> None:
    """The clinic's today when the test starts (the tests travel in time from there)."""
    global TODAY
    TODAY = timezone.localdate()


def day(offset: int) -> dt.date:
    """A clinic day a few days from the test's start (the tests travel there)."""
    return TODAY + dt.timedelta(days=offset)


def at(offset: int, hour: int, minute: int = 0) -> dt.datetime:
    return to_utc(day(offset), dt.time(hour, minute))


def entry(plan: TreatmentPlan) -> dict[str, Any]:
    """The bag of the plan's first step, as both nurses enter it."""
    if plan.drug == "ketamine":
        return {}
    step = plan.sessions.get(number=1).steps[0]
    return {
        "drug": "lidocaine",
        "vial_concentration_mg_per_ml": Decimal("20"),
        "vial_lot": "LID-1",
        "bag_concentration_mg_per_ml": Decimal(str(step["concentration_mg_per_ml"])),
        "dose_value": Decimal(str(step["rate_mg_per_h"])),
        "pump_rate_entered_ml_per_h": Decimal(str(step["rate_ml_per_h"])),
    }


def double_check_entry(plan: TreatmentPlan, **extra: Any) -> Any:
    values = {k: v for k, v in entry(plan).items() if k not in ("vial_concentration_mg_per_ml",)}
    values.pop("vial_lot", None)
    return check_input(**values, **extra)


def prepared(
    plan: TreatmentPlan,
    number: int,
    starts: dt.datetime,
    users: dict[Role, User],
    nurse: User,
    nurse2: User,
    *,
    chair: str = "Chair 1",
    reason: str = "",
    charted: dt.datetime | None = None,
) -> InfusionSession:
    """A booking at ``starts``; its chart opened, checklist, bag and double check at
    ``charted`` (15 min before the booking by default)."""
    booking = make_booking(plan, users[Role.FRONT_DESK], number, starts_at=starts, chair=chair)
    with charted_at(charted or starts - dt.timedelta(minutes=15)):
        s = services.do_open_session(make_request(nurse), booking.pk)
        services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
        s = fresh(s)
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input(**entry(plan)))
        s = fresh(s)
        services.do_double_check(
            make_request(nurse2), s.pk, s.version, double_check_entry(plan, limit_reason=reason)
        )
    return fresh(s)


def infused(s: InfusionSession, nurse: User, start: dt.datetime, minutes: int) -> InfusionSession:
    with charted_at(start):
        services.do_start(make_request(nurse), s.pk, s.version, StartInput(start))
    stop = start + dt.timedelta(minutes=minutes)
    with charted_at(stop):
        s = fresh(s)
        services.do_stop(make_request(nurse), s.pk, s.version, StopInput(stop))
    return fresh(s)


def yesterday_session(plan, users, nurse, nurse2, start, minutes) -> InfusionSession:
    return infused(prepared(plan, 1, start, users, nurse, nurse2), nurse, start, minutes)


# --- ketamine: the soft limit -----------------------------------------------------------------


def test_ketamine_on_consecutive_days_within_24_hours_needs_a_reason(
    patient, physician, nurse, nurse2, users
):
    plan = make_plan(patient, physician)
    # Day 1: 14:00-16:00 at 25 mg/h, 50 mg. Day 2: the 10:00 session plans 100 mg to 14:00;
    # the 24 hours before 14:00 hold all of day 1's 50 mg: 150 mg, above the soft 100 mg,
    # under the outpatient hard 160 mg.
    yesterday_session(plan, users, nurse, nurse2, at(2, 14), 120)
    booking = make_booking(plan, users[Role.FRONT_DESK], 2, starts_at=at(3, 10))
    with charted_at(at(3, 9, 45)):
        s = services.do_open_session(make_request(nurse), booking.pk)
        services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
        s = fresh(s)
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
        s = fresh(s)
        with pytest.raises(Refused) as refused:
            services.do_double_check(make_request(nurse2), s.pk, s.version, check_input())
    error = refused.value
    assert not isinstance(error, HardLimitRefused)
    assert error.field == "limit_reason"
    assert "24 hours" in error.message and "soft limit 100 mg" in error.message
    assert "50 mg given" in error.message and "100 mg planned" in error.message
    assert not DoubleCheck.objects.filter(preparation__session=s).exists()
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == Outcome.DENIED and event.detail["service"] == "do_double_check"
    assert event.detail["total_24h_mg"] == "150" and event.detail["limit"] == 100

    reason = "Dr Okafor: second session within 24 h agreed, pain flare"
    with charted_at(at(3, 9, 50)):
        check = services.do_double_check(
            make_request(nurse2), s.pk, s.version, check_input(limit_reason=reason)
        )
    assert check.matches and check.limit_reason == reason
    # The start carries the double check's reason.
    with charted_at(at(3, 10)):
        s = fresh(s)
        segment = services.do_start(make_request(nurse), s.pk, s.version, StartInput(at(3, 10)))
    assert segment.limit_status == "soft_limit" and segment.limit_reason == reason

    # Every rate change is checked again: 20 mg/h from 10:30 keeps the total above 100 mg.
    with charted_at(at(3, 10, 30)):
        s = fresh(s)
        with pytest.raises(Refused, match="24 hours") as refused:
            services.do_change_rate(
                make_request(nurse), s.pk, s.version, RateChangeInput(at(3, 10, 30), 20, "mg/h")
            )
        assert refused.value.field == "limit_reason"
        change = services.do_change_rate(
            make_request(nurse),
            s.pk,
            s.version,
            RateChangeInput(at(3, 10, 30), Decimal(20), "mg/h", limit_reason=reason),
        )
    assert change.limit_status == "soft_limit"


def test_two_full_outpatient_ketamine_sessions_within_24_hours_are_refused(
    patient, physician, nurse, nurse2, users
):
    """100 mg yesterday afternoon + 100 mg planned this morning = 200 mg in 24 hours, above the
    outpatient hard limit of 160 mg: refused at the double check, whatever the reason."""
    plan = make_plan(patient, physician)
    yesterday_session(plan, users, nurse, nurse2, at(2, 14), 240)
    booking = make_booking(plan, users[Role.FRONT_DESK], 2, starts_at=at(3, 10))
    with charted_at(at(3, 9, 45)):
        s = services.do_open_session(make_request(nurse), booking.pk)
        services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
        s = fresh(s)
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
        s = fresh(s)
        with pytest.raises(HardLimitRefused) as refused:
            services.do_double_check(
                make_request(nurse2), s.pk, s.version, check_input(limit_reason="flare")
            )
    assert "hard limit 160 mg" in refused.value.message
    assert refused.value.detail["total_24h_mg"] == "200" and refused.value.detail["limit"] == 160
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == Outcome.DENIED and event.detail["total_24h_mg"] == "200"


def test_more_than_24_hours_apart_needs_no_reason(patient, physician, nurse, nurse2, users):
    plan = make_plan(patient, physician)
    yesterday_session(plan, users, nurse, nurse2, at(2, 8), 240)  # ends 12:00 on day 1
    s = prepared(plan, 2, at(3, 13), users, nurse, nurse2)  # plans 13:00-17:00 on day 2
    assert s.status == SessionStatus.PREPARED
    with charted_at(at(3, 13)):
        segment = services.do_start(make_request(nurse), s.pk, s.version, StartInput(at(3, 13)))
    assert segment.limit_status == "within"


def test_the_start_needs_its_own_reason_when_the_total_grew_after_the_double_check(
    patient, physician, nurse, nurse2, users
):
    """Session B is double-checked first; session A then runs 40 min; B's start is checked again."""
    plan = make_plan(patient, physician)
    b = prepared(plan, 2, at(2, 11), users, nurse, nurse2, chair="Chair 2", charted=at(2, 8, 30))
    a = prepared(plan, 1, at(2, 9), users, nurse, nurse2)
    infused(a, nurse, at(2, 9), 40)
    with charted_at(at(2, 11)):
        b = fresh(b)
        with pytest.raises(Refused, match="24 hours") as refused:
            services.do_start(make_request(nurse), b.pk, b.version, StartInput(at(2, 11)))
        assert refused.value.field == "limit_reason"
        segment = services.do_start(
            make_request(nurse), b.pk, b.version, StartInput(at(2, 11), limit_reason="agreed")
        )
    assert segment.limit_reason == "agreed"


# --- lidocaine: the hard limit ----------------------------------------------------------------


def test_lidocaine_on_consecutive_days_is_refused_by_the_hard_limit_at_the_double_check(
    patient, physician, nurse, nurse2, users
):
    plan = make_plan(patient, physician, protocol_id=LIDOCAINE)
    yesterday_session(plan, users, nurse, nurse2, at(2, 14), 60)  # 400 mg
    booking = make_booking(plan, users[Role.FRONT_DESK], 1, starts_at=at(3, 10))
    with charted_at(at(3, 9, 45)):
        s = services.do_open_session(make_request(nurse), booking.pk)
        services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
        s = fresh(s)
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input(**entry(plan)))
        s = fresh(s)
        before = AuditEvent.objects.count()
        with pytest.raises(HardLimitRefused) as refused:
            services.do_double_check(
                make_request(nurse2),
                s.pk,
                s.version,
                double_check_entry(plan, limit_reason="a reason does not lift a hard limit"),
            )
    error = refused.value
    assert "hard limit 500 mg" in error.message
    assert "400 mg given" in error.message and "400 mg planned" in error.message
    assert error.detail["drug"] == "lidocaine"
    assert error.detail["delivered_24h_mg"] == "400" and error.detail["planned_mg"] == "400"
    assert error.detail["total_24h_mg"] == "800"
    assert error.detail["limit"] == 500 and error.detail["limit_unit"] == "mg"
    # Nothing saved; the refusal audited once with the values.
    assert BagPreparation.objects.get(session=s).status == PreparationStatus.AWAITING_CHECK
    assert fresh(s).status == SessionStatus.CHECKLIST_DONE
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == Outcome.DENIED and event.detail["total_24h_mg"] == "800"
    assert event.detail["limit_quantity"] == "total_24h_mg"


def test_lidocaine_start_is_refused_when_another_session_gave_its_share_meanwhile(
    patient, physician, nurse, nurse2, users
):
    plan = make_plan(patient, physician, protocol_id=LIDOCAINE)
    b = prepared(plan, 1, at(2, 11), users, nurse, nurse2, chair="Chair 2", charted=at(2, 8, 30))
    other = make_plan(patient, physician, protocol_id=LIDOCAINE)
    a = prepared(other, 1, at(2, 9), users, nurse, nurse2)
    infused(a, nurse, at(2, 9), 30)  # 200 mg: with B's 400 mg, 600 mg in 24 h
    with charted_at(at(2, 11)):
        b = fresh(b)
        with pytest.raises(HardLimitRefused, match="hard limit 500 mg"):
            services.do_start(make_request(nurse), b.pk, b.version, StartInput(at(2, 11)))
    assert fresh(b).status == SessionStatus.PREPARED
    assert not RateSegment.objects.filter(session=b).exists()


def test_lidocaine_rate_change_is_refused_by_the_hard_limit(
    patient, physician, nurse, nurse2, users
):
    plan = make_plan(patient, physician, protocol_id=LIDOCAINE)
    yesterday_session(plan, users, nurse, nurse2, at(2, 14), 15)  # 100 mg
    other = make_plan(patient, physician, protocol_id=LIDOCAINE)
    s = prepared(other, 1, at(3, 10), users, nurse, nurse2)  # 100 + 400 = 500: at the limit
    with charted_at(at(3, 10)):
        services.do_start(make_request(nurse), s.pk, s.version, StartInput(at(3, 10)))
    with charted_at(at(3, 10, 10)):
        s = fresh(s)
        with pytest.raises(HardLimitRefused, match="hard limit 500 mg") as refused:
            services.do_change_rate(
                make_request(nurse),
                s.pk,
                s.version,
                RateChangeInput(at(3, 10, 10), Decimal(420), "mg/h", limit_reason="titrating"),
            )
    assert refused.value.field == "dose_value"
    assert RateSegment.objects.filter(session=s).count() == 1


# --- the page ---------------------------------------------------------------------------------


def test_the_double_check_page_asks_for_the_reason_on_its_field(
    patient, physician, nurse, nurse2, users
):
    plan = make_plan(patient, physician)
    yesterday_session(plan, users, nurse, nurse2, at(2, 14), 120)
    booking = make_booking(plan, users[Role.FRONT_DESK], 2, starts_at=at(3, 10))
    with charted_at(at(3, 9, 45)):
        s = services.do_open_session(make_request(nurse), booking.pk)
        services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
        s = fresh(s)
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
        s = fresh(s)
        post = {
            "expected_version": s.version,
            "drug": "ketamine",
            "bag_concentration_mg_per_ml": "1",
            "dose_value": "25",
            "dose_unit": "mg/h",
            "pump_rate_entered_ml_per_h": "25",
        }
        client = logged_in_client(nurse2)
        url = reverse("infusions:double_check", kwargs={"session_id": s.pk})
        response = client.post(url, post)
        assert response.status_code == 200
        assert "24 hours" in response.context["form"].errors["limit_reason"][0]
        assert '<div class="field has-error">\n  <label for="id_limit_reason">' in (
            response.content.decode()
        )
        response = client.post(url, {**post, "limit_reason": "agreed with Dr Okafor"})
        assert response.status_code == 302
    assert DoubleCheck.objects.get(preparation__session=s).limit_reason == "agreed with Dr Okafor"


# --- the window -------------------------------------------------------------------------------


T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def hours(h: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=h)


def test_the_worst_window_is_the_one_ending_with_the_planned_remainder_when_nothing_drops_out():
    past = [Delivery(hours(-20), hours(-16), Decimal(25), session_id=1)]
    planned = [Delivery(hours(0), hours(4), Decimal(25))]
    window = worst_window(past, planned, hours(0))
    assert (window.end, window.delivered_mg, window.planned_mg) == (hours(4), 100, 100)


def test_the_worst_window_may_end_before_the_planned_remainder_does():
    """40 mg/h yesterday from -22 h to -18 h; 10 mg/h planned for 4 h: the window ending at
    +2 h holds all 160 mg given and 20 mg planned; later windows lose 40 mg/h as they gain 10."""
    past = [Delivery(hours(-22), hours(-18), Decimal(40), session_id=1)]
    planned = [Delivery(hours(0), hours(4), Decimal(10))]
    window = worst_window(past, planned, hours(0))
    assert (window.end, window.delivered_mg, window.planned_mg) == (hours(2), 160, 20)
    # The window ending with the remainder (the brief's) holds 80 + 40.
    assert worst_window(past, planned, hours(0), end=hours(4)).total_mg == 120


def test_delivery_is_cut_at_the_window_edges_exactly():
    past = [Delivery(hours(-25), hours(-23), Decimal(30), session_id=1)]
    planned = [Delivery(hours(0), hours(1), Decimal(30))]
    # The window ending at +1 h starts at -23 h: the 2 h given before it are outside.
    assert worst_window(past, planned, hours(0), end=hours(1)).delivered_mg == 0
    # The worst window ends at the start: from -24 h, one hour of the past delivery.
    assert worst_window(past, planned, hours(0)).total_mg == 30
