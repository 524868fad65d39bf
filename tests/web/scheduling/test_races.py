"""Two front-desk clerks book the same chair at the same time: the row locks let one through.

Each thread has its own database connection (Django connections are per thread) and its own
transaction; the test's own rows are committed first (``committed_db``: no test-wide
transaction to hide the race). The slot check is
slowed down so that, without the locks, both bookings would pass their check before either is
written; with them the second clerk waits for the first and then sees the chair taken.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection

from painclinic.web.accounts.models import Role
from painclinic.web.scheduling import services
from painclinic.web.scheduling.models import Booking, BookingStatus
from tests.conftest import actor_as, make_patient, make_user
from tests.web.committed import (
    _audit_triggers_restored,
    committed_db,
    skip_unless_races_can_run,
)
from tests.web.scheduling.factories import make_chair, make_plan

pytestmark = [skip_unless_races_can_run(), pytest.mark.usefixtures("committed_db")]
__all__ = ["_audit_triggers_restored", "committed_db"]


def next_monday() -> dt.date:
    day = dt.date.today() + dt.timedelta(days=7)
    return day - dt.timedelta(days=day.weekday())


def race(calls: list[Any], monkeypatch, hold_s: float = 0.4) -> list[tuple[str, Any]]:
    """Run ``calls`` at once in threads; each one's slot check holds for ``hold_s``."""
    real = services.propose_series

    def slow_proposal(*args: Any, **kwargs: Any) -> Any:
        slots = real(*args, **kwargs)
        time.sleep(hold_s)
        return slots

    monkeypatch.setattr(services, "propose_series", slow_proposal)
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def run(call: Any) -> None:
        try:
            barrier.wait(timeout=10)
            result = ("ok", call())
        except services.SchedulingError as error:
            result = ("refused", error)
        except Exception as error:
            result = ("error", error)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_clerks_booking_the_same_chair_at_once_one_wins(monkeypatch):
    chair = make_chair("Chair 1")
    physician = make_user(Role.PHYSICIAN)
    plans = [
        make_plan(make_patient(given, "Racer"), physician, sessions=1) for given in ("Ada", "Grace")
    ]
    clerk = make_user(Role.FRONT_DESK)
    monday = next_monday()

    def booking_for(plan: Any) -> Any:
        def call() -> Any:
            return services.do_book_series(
                actor_as(clerk),
                plan.pk,
                chair_id=chair.pk,
                first_date=monday,
                start_time=dt.time(9),
            )

        return call

    outcomes = race([booking_for(plan) for plan in plans], monkeypatch)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["ok", "refused"], outcomes
    refused = next(value for kind, value in outcomes if kind == "refused")
    assert [p.field for p in refused.problems] == ["chair"]
    assert "already taken" in refused.problems[0].message
    booked = Booking.objects.filter(chair=chair, status=BookingStatus.BOOKED)
    assert booked.count() == 1
