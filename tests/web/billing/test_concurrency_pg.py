"""Clerks issuing invoices at the same moment: numbers 1..N with no gap and no duplicate, a
session billed once, no deadlock.

Each thread calls the issuing services with its own database connection, on committed rows
(``committed_db``, see tests/web/committed.py), so the sequence's row lock and the sessions'
row locks are really contended (PostgreSQL; a file-backed SQLite test database runs it too,
with its one write lock). ``_take_number`` is slowed down here so that every other issuer is
waiting while one holds its number.

Two locks keep the numbers right, and both are tested: the services run one writer at a time
on the audit chain's lock (the lock order, docs/architecture.md), and the sequence row is taken
``select_for_update`` inside the issuing transaction, so even a write path that skipped the
chain's lock could not read the same next number twice (the last test, PostgreSQL only, takes
numbers in bare transactions at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from painclinic.web.accounts.models import Role
from painclinic.web.audit.chain import verify_chain
from painclinic.web.billing import services as billing_services
from painclinic.web.billing.models import Charge, Invoice, InvoiceLine, InvoiceSequence
from painclinic.web.billing.services import (
    BillingError,
    IssueResult,
    ManualInvoiceInput,
    ManualLineInput,
    do_issue_manual_invoice,
    do_issue_session_invoice,
)
from tests.conftest import actor_as, make_patient, make_user
from tests.web.billing.factories import signed_sessions, standard_fees
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

HOLD_S = 0.1  # how long each issuer holds the sequence's lock after taking its number

Work = Callable[[], Any]


def at_once(jobs: list[tuple[str, Work]]) -> list[tuple[str, Any]]:
    """Run every job at the same moment, one thread (and connection) each: (label, result or
    the exception raised)."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def run(label: str, work: Work) -> None:
        try:
            barrier.wait(timeout=20)
            result: Any = work()
        except Exception as error:
            result = error
        finally:
            connection.close()
        with lock:
            outcomes.append((label, result))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == len(jobs), "an issuer never finished (a lock never released)"
    return outcomes


def slow_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    real = billing_services._take_number

    def slow() -> int:
        number = real()
        time.sleep(HOLD_S)
        return number

    monkeypatch.setattr(billing_services, "_take_number", slow)


def test_clerks_issuing_at_once_get_consecutive_numbers_and_bill_a_session_once(monkeypatch):
    admin = actor_as(make_user(Role.CLINIC_ADMIN, "fees_admin"))
    physician = make_user(Role.PHYSICIAN, "dr_race")
    desk = make_user(Role.FRONT_DESK, "fd_race")
    standard_fees(admin)
    clerks = [actor_as(make_user(Role.BILLING, f"clerk{i}")) for i in range(10)]
    patients = [make_patient("Pat", f"Race{i}") for i in range(7)]
    sessions = {p.pk: signed_sessions(p, physician, desk, count=1)[0] for p in patients}
    contested, *others = patients
    report = ManualInvoiceInput(lines=(ManualLineInput(fee_code="REPORT"),))
    slow_numbers(monkeypatch)

    def bill(clerk: int, patient_id: int) -> Work:
        session_id = sessions[patient_id].pk
        return lambda: do_issue_session_invoice(clerks[clerk], patient_id, [session_id])

    jobs: list[tuple[str, Work]] = [
        ("session", bill(i, patient.pk)) for i, patient in enumerate(others)
    ]  # six clerks, six patients
    jobs += [("contested", bill(6, contested.pk)), ("contested", bill(7, contested.pk))]
    jobs += [
        ("report", lambda c=c, p=p: do_issue_manual_invoice(clerks[c], p.pk, report))
        for c, p in ((8, others[0]), (9, contested))
    ]

    outcomes = at_once(jobs)

    unexpected = [
        (label, result)
        for label, result in outcomes
        if not isinstance(result, IssueResult | BillingError)
    ]
    assert not unexpected, f"an issuer failed (a deadlock or a duplicate number?): {unexpected}"
    ok = {label: 0 for label, _ in outcomes}
    for label, result in outcomes:
        ok[label] += isinstance(result, IssueResult)
    assert ok == {"session": 6, "contested": 1, "report": 2}, outcomes
    # The losing clerk is told, in words, and nothing of theirs was saved.
    (refusal,) = [r for label, r in outcomes if label == "contested" and isinstance(r, Exception)]
    assert refusal.field == "session_ids"
    assert "already billed" in str(refusal) or "a moment ago" in str(refusal)

    invoices = list(Invoice.objects.order_by("number"))
    numbers = [invoice.number for invoice in invoices]
    assert numbers == list(range(1, 10)), numbers  # 6 + 1 + 2 invoices, no gap, no duplicate
    assert InvoiceSequence.objects.get(name="invoice").next_number == 10
    # Each invoice has its own lines; the contested session has one live charge.
    assert (
        InvoiceLine.objects.filter(invoice__in=invoices).values("invoice").distinct().count() == 9
    )
    assert Charge.objects.filter(session=sessions[contested.pk]).count() == 1
    # its session fee and supplies, on one invoice only
    billed_on = InvoiceLine.objects.filter(session=sessions[contested.pk]).values("invoice")
    assert billed_on.distinct().count() == 1
    for patient in others:
        assert Charge.objects.filter(session=sessions[patient.pk]).count() == 1
    assert verify_chain().ok


def test_a_refused_issue_in_the_crowd_leaves_no_gap(monkeypatch):
    """An issue refused after the number was taken (an insured line) rolls its number back:
    the others still get 1..N."""
    from painclinic.web.treatments.models import FeeBasis, TaxCategory
    from tests.web.billing.factories import add_fee

    admin = actor_as(make_user(Role.CLINIC_ADMIN, "fees_admin"))
    add_fee(admin, "REPORT", 15_000, FeeBasis.SERVICE, tax=TaxCategory.TAXABLE)
    add_fee(admin, "FORM", 2_500, FeeBasis.SERVICE)
    clerks = [actor_as(make_user(Role.BILLING, f"clerk{i}")) for i in range(8)]
    patients = [make_patient("Pat", f"Gap{i}") for i in range(8)]
    slow_numbers(monkeypatch)
    real_issue = billing_services._issue
    refused_for = patients[3].pk

    def issue_then_refuse(actor: Any, **kwargs: Any) -> Any:
        result = real_issue(actor, **kwargs)  # numbers taken and rows written
        if kwargs["patient"].pk == refused_for:
            raise BillingError("refused after numbering", "fee_code")
        return result

    monkeypatch.setattr(billing_services, "_issue", issue_then_refuse)
    data = ManualInvoiceInput(lines=(ManualLineInput(fee_code="REPORT"),))

    outcomes = at_once(
        [
            ("report", lambda c=c, p=p: do_issue_manual_invoice(c, p.pk, data))
            for c, p in zip(clerks, patients, strict=True)
        ]
    )

    refused = [r for _, r in outcomes if isinstance(r, BillingError)]
    others = [r for _, r in outcomes if not isinstance(r, IssueResult | BillingError)]
    assert len(refused) == 1 and not others, outcomes
    numbers = list(Invoice.objects.order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, 8)), numbers
    assert not Invoice.objects.filter(patient_id=refused_for).exists()


only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks are PostgreSQL's: SQLite has one write lock for the whole database",
)


@only_postgresql
def test_the_sequence_row_lock_alone_hands_out_each_number_once():
    """Eight transactions take numbers at once without the chain's lock: the row lock alone
    keeps the committed ones consecutive, and a rolled-back transaction leaves no gap."""
    from django.db import transaction

    barrier = threading.Barrier(8)

    def take(rollback: bool) -> Work:
        def work() -> int:
            barrier.wait(timeout=20)
            with transaction.atomic():
                number = billing_services._take_number()
                time.sleep(HOLD_S)  # hold the row while the others queue
                if rollback:
                    transaction.set_rollback(True)
            return number

        return work

    with transaction.atomic():
        billing_services._take_number()  # number 1, committed: the row exists
    outcomes = at_once(
        [("rollback" if i == 0 else "take", take(rollback=i == 0)) for i in range(8)]
    )

    assert all(isinstance(n, int) for _, n in outcomes), outcomes
    kept = sorted(n for label, n in outcomes if label == "take")
    assert kept == list(range(2, 9)), outcomes  # no duplicate, and no gap left by the rollback
    assert InvoiceSequence.objects.get(name="invoice").next_number == 9
