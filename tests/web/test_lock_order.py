"""Editors and viewers of one record at the same moment: no deadlock, one winner, the rest told.

Real requests through the Django test client, each thread with its own database connection,
on committed rows (``committed_db``, see tests/web/committed.py). The lock cycle these tests
reproduce (before the fix, on PostgreSQL): an edit locks the patient row and then waits for the
audit chain's lock, while a page view holds the chain's lock and its audit row's foreign key
waits for a share lock on that same patient row; PostgreSQL breaks the cycle by failing one of
them ("deadlock detected", a 500). The lock order that prevents it is documented in
docs/architecture.md ("Lock order").

Each editor's check is slowed down while it holds its row lock, so that without the lock order
the viewers' audit rows would queue behind it every time (the cycle is then certain, not luck).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.audit.chain import verify_chain
from painclinic.web.patients import services as patient_services
from painclinic.web.patients.models import Patient
from painclinic.web.treatments import services as treatment_services
from painclinic.web.treatments.models import TreatmentPlan
from tests.conftest import actor_as, logged_in_client, make_patient, make_user
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

HOLD_S = 0.25  # how long each editor holds its row lock before it audits


Request = Callable[[], Any]


def at_once(requests: list[tuple[str, Request]]) -> list[tuple[str, int | str]]:
    """Send every request at the same moment, one thread each; (label, status or error)."""
    barrier = threading.Barrier(len(requests))
    outcomes: list[tuple[str, int | str]] = []
    lock = threading.Lock()

    def run(label: str, send: Request) -> None:
        try:
            barrier.wait(timeout=20)
            result: int | str = send().status_code
        except Exception as error:  # a 500: the test client re-raises the view's exception
            result = f"{type(error).__name__}: {error}"
        finally:
            connection.close()
        with lock:
            outcomes.append((label, result))

    threads = [threading.Thread(target=run, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == len(requests), "a request never finished"
    return outcomes


def tally(outcomes: list[tuple[str, int | str]], label: str) -> Counter[int | str]:
    return Counter(result for name, result in outcomes if name == label)


def slow_down(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    """Make ``module.name`` (called while its service holds its row lock) take HOLD_S longer."""
    real = getattr(module, name)

    def slow(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        time.sleep(HOLD_S)
        return result

    monkeypatch.setattr(module, name, slow)


def clients(role: Role, count: int, prefix: str) -> list[Client]:
    return [logged_in_client(make_user(role, f"{prefix}{i}")) for i in range(count)]


def edit_data(client: Client, patient: Patient, phone: str) -> dict[str, Any]:
    """The patient's edit form as the page filled it in (with its version), a new phone."""
    form = client.get(reverse("patients:edit", kwargs={"patient_id": patient.pk})).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data["phone"] = phone
    return data


def post_edit(client: Client, patient: Patient, data: dict[str, Any]) -> Request:
    url = reverse("patients:edit", kwargs={"patient_id": patient.pk})
    return lambda: client.post(url, data)


def get(client: Client, url: str) -> Request:
    return lambda: client.get(url)


def assert_chain_intact() -> None:
    report = verify_chain()
    assert report.ok, report.reason


def test_editors_and_viewers_of_one_patient(monkeypatch):
    patient = make_patient()
    editors = clients(Role.FRONT_DESK, 6, "fd_edit_")
    viewers = clients(Role.NURSE, 6, "rn_view_")
    forms = [edit_data(c, patient, f"(613) 555-01{i:02d}") for i, c in enumerate(editors)]
    slow_down(monkeypatch, patient_services, "demographics_snapshot")
    detail = reverse("patients:detail", kwargs={"patient_id": patient.pk})

    outcomes = at_once(
        [("edit", post_edit(c, patient, data)) for c, data in zip(editors, forms, strict=True)]
        + [("view", get(c, detail)) for c in viewers]
    )

    assert tally(outcomes, "view") == {200: len(viewers)}, outcomes
    assert tally(outcomes, "edit") == {302: 1, 409: len(editors) - 1}, outcomes
    patient.refresh_from_db()
    assert patient.version == 2
    assert_chain_intact()


# --- one treatment plan ---------------------------------------------------------------------


def ready_patient(physician: User, nurse: User) -> Patient:
    from painclinic.web.demo.treatments import load_fee_schedule
    from tests.web.treatments.conftest import decide_eligibility, set_weight, sign_consent

    load_fee_schedule(actor_as(make_user(Role.CLINIC_ADMIN, "fees_admin")))
    patient = make_patient()
    set_weight(patient, "80.0", nurse)
    decide_eligibility(patient, "ketamine", physician)
    sign_consent(patient, "ket-crps-outpatient", 10, physician, nurse)
    return patient


def test_plan_savers_cancellers_and_viewers_of_one_patient(monkeypatch):
    physician = make_user(Role.PHYSICIAN, "dr_first")
    nurse = make_user(Role.NURSE, "rn_first")
    patient = ready_patient(physician, nurse)
    weight = patient.weights.get()
    plan = treatment_services.do_create_plan(
        actor_as(physician),
        patient,
        protocol_id="ket-crps-outpatient",
        sessions=10,
        soft_limit_reason="",
        expected_weight_id=weight.pk,
    )
    savers = clients(Role.PHYSICIAN, 3, "dr_save_")
    cancellers = clients(Role.PHYSICIAN, 4, "dr_cancel_")
    nurses = clients(Role.NURSE, 3, "rn_view_")
    desk = clients(Role.FRONT_DESK, 2, "fd_view_")
    slow_down(monkeypatch, treatment_services, "preview_plan")  # under the patient's lock
    slow_down(monkeypatch, treatment_services, "_locked_plan")  # under the plan's lock
    new_plan = reverse("treatments:plan_new", kwargs={"patient_id": patient.pk})
    save = {"protocol_id": "ket-crps-outpatient", "sessions": "10", "expected_weight_id": weight.pk}
    cancel = reverse("treatments:plan_cancel", kwargs={"plan_id": plan.pk})
    cancel_data = {"expected_version": plan.version, "reason": "Patient moved away"}
    plan_page = reverse("treatments:plan", kwargs={"plan_id": plan.pk})
    patient_page = reverse("patients:detail", kwargs={"patient_id": patient.pk})

    outcomes = at_once(
        [("save", lambda c=c: c.post(new_plan, save)) for c in savers]
        + [("cancel", lambda c=c: c.post(cancel, cancel_data)) for c in cancellers]
        + [("view", get(c, plan_page)) for c in nurses]
        + [("view", get(c, patient_page)) for c in desk]
    )

    assert tally(outcomes, "view") == {200: len(nurses) + len(desk)}, outcomes
    assert tally(outcomes, "save") == {302: len(savers)}, outcomes
    assert tally(outcomes, "cancel") == {302: 1, 409: len(cancellers) - 1}, outcomes
    assert TreatmentPlan.objects.filter(patient=patient).count() == 1 + len(savers)
    assert_chain_intact()


# --- one infusion session -------------------------------------------------------------------


def running_session(physician: User, nurse: User, nurse2: User) -> Any:
    from painclinic.web.drugregister.services import ReceiptInput, do_record_receipt
    from painclinic.web.infusions.services import do_open_session
    from tests.web.infusions.conftest import make_booking, make_plan, run_to

    do_record_receipt(
        actor_as(nurse),
        ReceiptInput(
            drug="ketamine",
            concentration_mg_per_ml=Decimal("10"),
            vial_volume_ml=Decimal("10"),
            vial_count=20,
            lot="KX123",
            expiry_date=timezone.localdate() + dt.timedelta(days=365),
            supplier="Test supplier",
            reference="PO-1",
        ),
    )
    patient = make_patient()
    plan = make_plan(patient, physician)
    booking = make_booking(plan, make_user(Role.FRONT_DESK, "fd_booker"))
    session = do_open_session(actor_as(nurse), booking.pk)
    return run_to(session, "running", nurse, nurse2)


def test_chart_writers_viewers_and_a_demographics_edit_of_one_session(monkeypatch):
    from painclinic.web.infusions import services as infusion_services
    from painclinic.web.infusions.models import InfusionSession, SessionEvent

    physician = make_user(Role.PHYSICIAN, "dr_chart")
    session = running_session(
        physician, make_user(Role.NURSE, "rn_chart"), make_user(Role.NURSE, "rn_check")
    )
    patient = session.patient
    pausers = clients(Role.NURSE, 4, "rn_pause_")
    viewers = [*clients(Role.NURSE, 3, "rn_view_"), logged_in_client(physician)]
    editor = clients(Role.FRONT_DESK, 1, "fd_edit_")[0]
    form = edit_data(editor, patient, "(613) 555-0177")
    slow_down(monkeypatch, patient_services, "demographics_snapshot")
    slow_down(monkeypatch, infusion_services, "_lock")
    pause = reverse("infusions:pause", kwargs={"session_id": session.pk})
    at = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    pause_data = {"expected_version": session.version, "at": at, "reason": "nausea"}
    chart = reverse("infusions:session", kwargs={"session_id": session.pk})

    outcomes = at_once(
        [("pause", lambda c=c: c.post(pause, pause_data)) for c in pausers]
        + [("view", get(c, chart)) for c in viewers]
        + [("edit", post_edit(editor, patient, form))]
    )

    assert tally(outcomes, "view") == {200: len(viewers)}, outcomes
    assert tally(outcomes, "edit") == {302: 1}, outcomes
    assert tally(outcomes, "pause") == {302: 1, 409: len(pausers) - 1}, outcomes
    assert SessionEvent.objects.filter(session=session, kind="pause").count() == 1
    assert InfusionSession.objects.get(pk=session.pk).status == "paused"
    assert_chain_intact()


# --- the lock order itself ------------------------------------------------------------------

only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks are PostgreSQL's: SQLite has one write lock for the whole database",
)


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as error:
            result.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def holding(lock: Callable[[], Any], release: threading.Event) -> Callable[[], None]:
    """Work for a thread: take ``lock`` in a transaction and keep it until ``release``."""
    from django.db import transaction

    def hold() -> None:
        with transaction.atomic():
            lock()
            release.wait(timeout=30)

    return hold


@only_postgresql
def test_a_page_view_is_not_held_up_by_a_clinicians_row_lock():
    """An audit row takes no lock on the patient it names: the view ends while the row is
    locked by an edit that has not finished."""
    patient = make_patient()
    viewer = logged_in_client(make_user(Role.NURSE, "rn_view"))
    release = threading.Event()
    holder, _ = in_thread(
        holding(lambda: Patient.objects.select_for_update().get(pk=patient.pk), release)
    )
    time.sleep(0.3)
    view, result = in_thread(lambda: viewer.get(reverse("patients:detail", args=[patient.pk])))
    view.join(timeout=10)
    finished = not view.is_alive()
    release.set()
    holder.join(timeout=10)
    view.join(timeout=10)
    assert finished, "the page view waited for the patient's row lock"
    assert result[0].status_code == 200


@only_postgresql
def test_a_service_takes_the_chain_lock_before_any_row_lock():
    """While someone holds the audit chain's lock, an edit waits for it without having locked
    the patient's row yet (the other order is the deadlock)."""
    from django.db import transaction
    from django.db.utils import OperationalError

    from painclinic.web.audit.chain import lock_chain
    from painclinic.web.patients.services import Demographics

    patient = make_patient()
    clerk = make_user(Role.FRONT_DESK, "fd_edit")
    release = threading.Event()
    holder, _ = in_thread(holding(lock_chain, release))
    time.sleep(0.3)
    fields = {name: getattr(patient, name) for name in Demographics.__dataclass_fields__}
    entry = Demographics(**fields | {"phone": "(613) 555-0100"})
    edit, result = in_thread(
        lambda: patient_services.do_update_patient(
            actor_as(clerk), patient.pk, patient.version, entry
        )
    )
    time.sleep(0.5)
    try:
        with transaction.atomic():
            Patient.objects.select_for_update(nowait=True).get(pk=patient.pk)
        row_free = True
    except OperationalError:
        row_free = False
    assert edit.is_alive(), result
    release.set()
    holder.join(timeout=10)
    edit.join(timeout=10)
    assert row_free, "the edit locked the patient's row before the audit chain's lock"
    assert isinstance(result[0], Patient), result
