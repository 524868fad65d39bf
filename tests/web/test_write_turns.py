"""A page view that meets a long write waits for it: no "database is locked" 500, no lost session.

Every page view writes twice: its audit event and its session (the last-seen time). On the
embedded SQLite database a write that finds SQLite's one write lock taken waits in SQLite's
busy handler, and gives up with "database is locked" when the busy timeout runs out: the audit
append's 500, or the session save's 400 (Django's answer when it cannot save a session), the two
failures 40 concurrent clients met. Under load the busy handler's polling let one writer wait out
the whole timeout while others came and went (bench/bench_load.py measures it).

These tests make that wait certain instead of rare: another thread holds a write transaction
longer than the page view's busy timeout (shortened here to 0.1 s so the test is quick, the
hold is 0.6 s). Writers of the process now wait for their turn in arrival order
(``painclinic.web.lib.sqlite``) rather than in the busy handler, so the page view is answered
once the other write commits. On PostgreSQL the page view waits for the audit chain's lock
(there is no busy timeout): the same tests check that it is answered and audited after it.

Committed rows and real threads (``committed_db``): on SQLite the file-backed test database
(PAINCLINIC_TEST_SQLITE_FILE=1), as in production.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.audit.chain import lock_chain
from painclinic.web.audit.models import AuditEvent
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.patients.models import Patient
from tests.conftest import actor_as, make_patient, make_user
from tests.web.committed import (
    _audit_triggers_restored,
    committed_db,
    skip_unless_races_can_run,
)

pytestmark = [
    skip_unless_races_can_run(),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]
__all__ = ["_audit_triggers_restored", "committed_db"]

BUSY_TIMEOUT_MS = 100  # the page view's busy timeout in these tests (10 s in production)
HOLD_S = 0.6  # how long the other write keeps its transaction open: six busy timeouts


@pytest.fixture
def short_busy_timeout() -> Iterator[None]:
    """This thread's connection gives up on SQLite's write lock after 0.1 s."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    yield
    connection.close()  # the next connection is configured from the settings again


class HeldWrite:
    """Another thread's write transaction (an audit append, as a page view's), held open."""

    def __init__(self, patient: Patient) -> None:
        self.patient = patient
        self.holding = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run)
        self.sequence = 0

    def _run(self) -> None:
        try:
            writer = make_user(Role.PHYSICIAN, "dr_holding")
            with transaction.atomic():
                lock_chain()  # PostgreSQL: the chain's lock; SQLite: BEGIN IMMEDIATE has it
                event = audit(
                    actor_as(writer),
                    category=Category.DEMOGRAPHICS,
                    action=Action.VIEW,
                    patient=self.patient,
                )
                self.sequence = event.sequence
                self.holding.set()
                time.sleep(HOLD_S)
        except BaseException as error:
            self.errors.append(error)
            self.holding.set()
        finally:
            connection.close()

    def __enter__(self) -> HeldWrite:
        self.thread.start()
        assert self.holding.wait(timeout=20)
        assert not self.errors, self.errors
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        assert not self.errors, self.errors


def signed_in(role: Role, username: str) -> Client:
    client = Client(raise_request_exception=False)  # a failure is the 500 a browser gets
    client.force_login(make_user(role, username))
    return client


def test_a_page_view_waits_for_a_write_held_longer_than_its_busy_timeout(short_busy_timeout):
    patient = make_patient()
    nurse = signed_in(Role.NURSE, "rn_viewer")
    detail = reverse("patients:detail", kwargs={"patient_id": patient.pk})

    with HeldWrite(patient) as held:
        response = nurse.get(detail)

    assert response.status_code == 200
    viewed = AuditEvent.objects.filter(actor_username="rn_viewer", patient=patient).get()
    assert viewed.sequence > held.sequence  # appended after the held write committed
    assert nurse.get(detail).status_code == 200  # and the session is still there


def test_a_session_save_waits_for_a_write_held_longer_than_its_busy_timeout(short_busy_timeout):
    """The lost session: a page view that writes only its session (the last-seen time)."""
    patient = make_patient()
    nurse = signed_in(Role.NURSE, "rn_pinger")
    ping = reverse("accounts:ping")
    session_key = nurse.session.session_key

    with HeldWrite(patient):
        response = nurse.get(ping)

    assert response.status_code == 200  # not Django's 400 for a session it could not save
    assert nurse.session.session_key == session_key
    search = nurse.get(reverse("patients:search"))
    assert search.status_code == 200  # still signed in: not sent to the login page


def test_a_write_passes_its_turn_on_however_it_ends():
    """Committed, rolled back, or its connection closed in the middle: the next writer's turn."""
    if connection.vendor != "sqlite":
        pytest.skip("the writer queue serves SQLite's one write lock")
    from painclinic.web.lib.sqlite.base import writer_queue

    queue = writer_queue(connection.settings_dict["NAME"])

    def turn_is_free() -> bool:
        if not queue.acquire(timeout=0):
            return False
        queue.release()
        return True

    with transaction.atomic():
        make_patient("Committed", "Write")
        assert not turn_is_free()
    assert turn_is_free()

    with pytest.raises(RuntimeError), transaction.atomic():
        make_patient("Rolled", "Back")
        raise RuntimeError("a refusal")
    assert turn_is_free()

    with transaction.atomic():
        make_patient("Closed", "Midway")
        connection.close()
    assert turn_is_free()
    assert not Patient.objects.filter(legal_family_name__in=["Back", "Midway"]).exists()
