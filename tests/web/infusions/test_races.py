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
