"""Two nurses chart the same session at the same moment: one change wins, the other is told.

Both start from the same version of the chart. The session row lock makes the second wait for
the first; it then finds a newer version and gets the conflict (HTTP 409 on the page), so the
infusion is started once, not twice. See tests/web/committed.py for the committed database.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import StartInput
from painclinic.web.infusions.models import RateSegment, SessionEvent, SessionStatus
from tests.web.committed import (
    _audit_triggers_restored,
    committed_db,
    skip_unless_races_can_run,
)
from tests.web.infusions.conftest import fresh, make_request, run_to

pytestmark = [
    skip_unless_races_can_run(),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]
__all__ = ["_audit_triggers_restored", "committed_db"]


def test_two_nurses_starting_the_same_session_start_it_once(session, nurse, nurse2, monkeypatch):
    s = run_to(session, "prepared", nurse, nurse2)
    version = s.version
    real = services.verified_preparation

    def slow(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        time.sleep(0.4)  # both would pass the checks before either writes, without the lock
        return found

    monkeypatch.setattr(services, "verified_preparation", slow)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    at = timezone.now()

    def start(user: Any) -> None:
        try:
            barrier.wait(timeout=10)
            services.do_start(make_request(user), s.pk, version, StartInput(at))
            outcomes.append("started")
        except services.SessionConflict:
            outcomes.append("conflict")
        except Exception as error:
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(user,)) for user in (nurse, nurse2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "started"], outcomes
    assert RateSegment.objects.filter(session=s).count() == 1
    assert SessionEvent.objects.filter(session=s, kind="start").count() == 1
    assert fresh(s).status == SessionStatus.RUNNING


def _two_prepared_sessions(session, plan, users, nurse, nurse2):
    """The fixture session and a second booking of the same patient today, both double-checked."""
    from painclinic.web.accounts.models import Role
    from tests.web.infusions.conftest import make_booking

    second = services.do_open_session(
        make_request(nurse),
        make_booking(plan, users[Role.FRONT_DESK], 2, chair="Chair 2").pk,
    )
    return run_to(session, "prepared", nurse, nurse2), run_to(second, "prepared", nurse, nurse2)


def _start_both_at_once(sessions, users) -> list[str]:
    barrier = threading.Barrier(len(sessions))
    outcomes: list[str] = []
    at = timezone.now()

    def start(s: Any, user: Any) -> None:
        try:
            barrier.wait(timeout=10)
            services.do_start(make_request(user), s.pk, s.version, StartInput(at))
            outcomes.append(f"started {s.booking.chair}")
        except services.Refused as error:
            outcomes.append(f"refused: {error.message}")
        except Exception as error:
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=start, args=pair) for pair in zip(sessions, users, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _one_winner(outcomes: list[str], a: Any, b: Any) -> None:
    started = [o for o in outcomes if o.startswith("started")]
    refused = [o for o in outcomes if o.startswith("refused")]
    assert len(started) == 1 and len(refused) == 1, outcomes
    winner_chair = started[0].removeprefix("started ")
    assert f"is running: {winner_chair}, started" in refused[0], outcomes
    statuses = sorted(fresh(s).status for s in (a, b))
    assert statuses == [SessionStatus.PREPARED, SessionStatus.RUNNING]
    assert RateSegment.objects.filter(session__in=[a, b]).count() == 1


def test_two_sessions_of_one_patient_started_at_once_one_runs(
    session, plan, users, nurse, nurse2, monkeypatch
):
    """The security test's double infusion, raced: two nurses start the patient's two
    double-checked bags at the same moment; exactly one runs, the other nurse is told which."""
    a, b = _two_prepared_sessions(session, plan, users, nurse, nurse2)
    real = services.verified_preparation

    def slow(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        time.sleep(0.4)  # both would pass the checks before either writes, without a lock
        return found

    monkeypatch.setattr(services, "verified_preparation", slow)
    _one_winner(_start_both_at_once([a, b], [nurse, nurse2]), a, b)


def test_the_database_constraint_alone_leaves_one_winner(
    session, plan, users, nurse, nurse2, monkeypatch
):
    """Were the check inside the transaction skipped, the partial unique constraint still lets
    one start through, and the other is refused naming it (not a server error)."""
    a, b = _two_prepared_sessions(session, plan, users, nurse, nurse2)
    monkeypatch.setattr(services, "_require_none_running", lambda *args, **kwargs: None)
    _one_winner(_start_both_at_once([a, b], [nurse, nurse2]), a, b)
