"""The drug-register services called directly (no view), as a command or a worker would.

Each refusal: it raises, nothing is saved, and exactly one denied audit event is written by the
service and survives the rollback, naming the service, the field and (for entries of an infusion
session) the patient. A failed witness signature is that event, carrying the witness, and it
counts towards the witness lock-out. A wrong role is refused by the service itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent, Category, Outcome
from painclinic.web.drugregister.models import (
    Discrepancy,
    DiscrepancyResolution,
    EntryKind,
    RegisterEntry,
    StockCount,
)
from painclinic.web.drugregister.roles import ROLES
from painclinic.web.drugregister.services import (
    WITNESS_MAX_FAILURES,
    CountInput,
    DrugRegisterError,
    ReceiptInput,
    do_record_count,
    do_record_destruction,
    do_record_draw,
    do_record_receipt,
    do_record_waste,
    do_resolve_discrepancy,
)
from painclinic.web.infusions.models import InfusionSession
from painclinic.web.lib.service import Refused, RoleRefused
from tests.conftest import PASSWORD, actor_as

pytestmark = pytest.mark.django_db
TEN = Decimal("10")


def receipt(**overrides: Any) -> ReceiptInput:
    fields: dict[str, Any] = {
        "concentration_mg_per_ml": TEN,
        "vial_volume_ml": Decimal("5"),
        "vial_count": 10,
        "lot": "K123",
        "expiry_date": timezone.localdate() + dt.timedelta(days=365),
        "supplier": "Sandoz Canada",
        "reference": "INV-001",
    }
    return ReceiptInput(**(fields | overrides))


def state() -> tuple[int, ...]:
    """What a refused call must leave alone."""
    return (
        RegisterEntry.objects.count(),
        StockCount.objects.count(),
        Discrepancy.objects.count(),
        DiscrepancyResolution.objects.count(),
    )


def refused_once(
    call: Callable[[], Any],
    error_class: type[BaseException] = DrugRegisterError,
    *,
    service: str,
    patient: Any = None,
) -> tuple[Any, AuditEvent]:
    before_state, before_count = state(), AuditEvent.objects.count()
    with pytest.raises(error_class) as raised:
        call()
    assert state() == before_state
    assert AuditEvent.objects.count() == before_count + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == Outcome.DENIED and event.category == "drug_register"
    assert event.detail["service"] == service
    assert event.patient_id == (patient.pk if patient is not None else None)
    return raised.value, event


@pytest.fixture
def nurse(users):
    return actor_as(users[Role.NURSE])


@pytest.fixture
def stocked(nurse):
    do_record_receipt(nurse, receipt())  # 500 mg at 10 mg/mL, lot K123
    return nurse


@pytest.fixture
def drawn(stocked, session):
    do_record_draw(
        stocked, session, concentration_mg_per_ml=TEN, amount_mg=Decimal("50"), lot="K123"
    )
    return stocked


def waste(actor, session, **overrides: Any) -> RegisterEntry:
    fields: dict[str, Any] = {
        "concentration_mg_per_ml": TEN,
        "amount_mg": Decimal("5"),
        "witness": None,
        "witness_password": PASSWORD,
        "reason": "Remainder",
    }
    return do_record_waste(actor, session, **(fields | overrides))


def destroy(actor, **overrides: Any) -> RegisterEntry:
    fields: dict[str, Any] = {
        "concentration_mg_per_ml": TEN,
        "lot": "K123",
        "amount_mg": Decimal("50"),
        "witness": None,
        "witness_password": PASSWORD,
        "reason": "Vial broken",
    }
    return do_record_destruction(actor, **(fields | overrides))


# --- receipts and counts ----------------------------------------------------------------------


def test_a_receipt_at_a_concentration_not_in_the_library_is_refused(nurse):
    error, event = refused_once(
        lambda: do_record_receipt(nurse, receipt(concentration_mg_per_ml=Decimal("25"))),
        service="do_record_receipt",
    )
    assert isinstance(error, Refused) and error.field == "concentration_mg_per_ml"
    assert event.detail["field"] == "concentration_mg_per_ml"
    assert event.detail["refused"] == error.message


def test_a_lot_received_again_at_another_concentration_is_refused(stocked):
    error, _ = refused_once(
        lambda: do_record_receipt(stocked, receipt(concentration_mg_per_ml=Decimal("50"))),
        service="do_record_receipt",
    )
    assert error.field == "lot" and "check the vial label" in error.message


def test_a_count_while_a_discrepancy_is_open_is_refused(stocked):
    short = CountInput(concentration_mg_per_ml=TEN, full_vials=9, vial_volume_ml=Decimal("5"))
    do_record_count(stocked, short)
    error, _ = refused_once(lambda: do_record_count(stocked, short), service="do_record_count")
    assert error.field == "concentration_mg_per_ml" and "still open" in error.message


def test_resolving_too_briefly_or_twice_is_refused(users, stocked):
    short = CountInput(concentration_mg_per_ml=TEN, full_vials=9, vial_volume_ml=Decimal("5"))
    discrepancy = do_record_count(stocked, short).discrepancy
    physician = actor_as(users[Role.PHYSICIAN])
    error, _ = refused_once(
        lambda: do_resolve_discrepancy(physician, discrepancy.pk, "oops"),
        service="do_resolve_discrepancy",
    )
    assert error.field == "explanation"
    do_resolve_discrepancy(physician, discrepancy.pk, "One vial broken during the count.")
    admin = actor_as(users[Role.CLINIC_ADMIN])
    error, event = refused_once(
        lambda: do_resolve_discrepancy(admin, discrepancy.pk, "Resolving it a second time."),
        service="do_resolve_discrepancy",
    )
    assert "already resolved" in error.message
    assert event.object_type == "discrepancy" and event.object_id == str(discrepancy.pk)


# --- draws ------------------------------------------------------------------------------------


def test_an_overdraw_is_refused_and_the_event_names_the_patient(stocked, session):
    error, event = refused_once(
        lambda: do_record_draw(
            stocked, session, concentration_mg_per_ml=TEN, amount_mg=Decimal("500.01"), lot="K123"
        ),
        service="do_record_draw",
        patient=session.patient,
    )
    assert error.field == "amount_mg" and event.detail["field"] == "amount_mg"
    assert event.object_type == "infusionsession" and event.object_id == str(session.pk)


def test_a_draw_for_a_signed_session_is_refused(stocked, session):
    InfusionSession.objects.filter(pk=session.pk).update(status="signed")
    error, _ = refused_once(
        lambda: do_record_draw(
            stocked, session, concentration_mg_per_ml=TEN, amount_mg=Decimal("5"), lot="K123"
        ),
        service="do_record_draw",
        patient=session.patient,
    )
    assert error.field == "session"


def test_a_draw_from_a_lot_never_received_is_refused(stocked, session):
    error, _ = refused_once(
        lambda: do_record_draw(
            stocked, session, concentration_mg_per_ml=TEN, amount_mg=Decimal("5"), lot="NOPE"
        ),
        service="do_record_draw",
        patient=session.patient,
    )
    assert error.field == "lot"


# --- witnessed waste and destruction ----------------------------------------------------------


def test_a_wrong_witness_password_is_one_audited_refusal_naming_the_witness(
    drawn, session, second_nurse
):
    error, event = refused_once(
        lambda: waste(drawn, session, witness=second_nurse, witness_password="guess"),
        service="do_record_waste",
        patient=session.patient,
    )
    assert error.field == "witness_password"
    assert event.detail["field"] == "witness_password"
    assert event.detail["witness_id"] == second_nurse.pk
    assert event.detail["witnessed"] == EntryKind.WASTE
    assert not RegisterEntry.objects.filter(kind=EntryKind.WASTE).exists()


@pytest.mark.parametrize("witness_role", [None, Role.NURSE, Role.FRONT_DESK])
def test_a_witness_who_is_nobody_oneself_or_not_clinical_is_refused(
    users, drawn, session, witness_role
):
    # None: no witness chosen; the nurse herself; a front-desk colleague.
    witness = users[witness_role] if witness_role else None
    error, event = refused_once(
        lambda: waste(drawn, session, witness=witness),
        service="do_record_waste",
        patient=session.patient,
    )
    assert error.field == "witness" and event.detail["field"] == "witness"


def test_waste_beyond_what_was_drawn_is_refused(drawn, session, second_nurse):
    error, _ = refused_once(
        lambda: waste(drawn, session, witness=second_nurse, amount_mg=Decimal("50.01")),
        service="do_record_waste",
        patient=session.patient,
    )
    assert error.field == "amount_mg"


def test_a_destruction_beyond_the_lot_or_with_a_wrong_password_is_refused(stocked, second_nurse):
    error, event = refused_once(
        lambda: destroy(stocked, witness=second_nurse, amount_mg=Decimal("500.01")),
        service="do_record_destruction",
    )
    assert error.field == "amount_mg"
    error, event = refused_once(
        lambda: destroy(stocked, witness=second_nurse, witness_password="guess"),
        service="do_record_destruction",
    )
    assert event.detail["witness_id"] == second_nurse.pk
    assert event.detail["witnessed"] == EntryKind.DESTRUCTION


def test_wrong_passwords_on_any_witnessed_entry_count_towards_the_lock_out(
    drawn, session, second_nurse
):
    """Failures at a destruction and at a waste add up: the lock-out reads the audited
    refusals, whichever service wrote them."""
    for _ in range(WITNESS_MAX_FAILURES - 1):
        with pytest.raises(DrugRegisterError):
            destroy(drawn, witness=second_nurse, witness_password="guess")
    with pytest.raises(DrugRegisterError):
        waste(drawn, session, witness=second_nurse, witness_password="guess")
    error, event = refused_once(
        lambda: waste(drawn, session, witness=second_nurse),
        service="do_record_waste",
        patient=session.patient,
    )
    assert "Too many wrong passwords" in error.message
    assert event.detail["witness_id"] == second_nurse.pk


# --- roles ------------------------------------------------------------------------------------

WRONG_ROLE_CALLS: list[tuple[str, Role, Callable[..., Any]]] = [
    ("do_record_receipt", Role.PHYSICIAN, lambda actor, w: do_record_receipt(actor, receipt())),
    (
        "do_record_draw",
        Role.PHYSICIAN,
        lambda actor, w: do_record_draw(
            actor, w["session"], concentration_mg_per_ml=TEN, amount_mg=Decimal("5"), lot="K123"
        ),
    ),
    # A physician cannot record waste (only a nurse does, witnessed by a second person).
    (
        "do_record_waste",
        Role.PHYSICIAN,
        lambda actor, w: waste(actor, w["session"], witness=w["witness"]),
    ),
    (
        "do_record_destruction",
        Role.CLINIC_ADMIN,
        lambda actor, w: destroy(actor, witness=w["witness"]),
    ),
    (
        "do_record_count",
        Role.FRONT_DESK,
        lambda actor, w: do_record_count(
            actor,
            CountInput(concentration_mg_per_ml=TEN, full_vials=10, vial_volume_ml=Decimal("5")),
        ),
    ),
    (
        "do_resolve_discrepancy",
        Role.NURSE,
        lambda actor, w: do_resolve_discrepancy(actor, w["discrepancy"].pk, "A vial was broken."),
    ),
]


@pytest.mark.parametrize(
    ("service", "role", "call"), WRONG_ROLE_CALLS, ids=[s for s, _, _ in WRONG_ROLE_CALLS]
)
def test_a_wrong_role_calling_directly_is_refused_and_audited(
    users, drawn, session, second_nurse, service, role, call
):
    assert role not in getattr(ROLES, service.removeprefix("do_"))
    short = CountInput(concentration_mg_per_ml=TEN, full_vials=1, vial_volume_ml=Decimal("5"))
    world = {
        "session": session,
        "witness": second_nurse,
        "discrepancy": do_record_count(drawn, short).discrepancy,
    }
    _, event = refused_once(
        lambda: call(actor_as(users[role]), world), RoleRefused, service=service
    )
    assert isinstance(RoleRefused("x"), PermissionDenied)
    assert event.action == Action.ACCESS_DENIED and event.actor == users[role]
    assert event.channel == "cli"


def test_the_lock_out_counts_failures_audited_by_other_apps_and_before_the_contract(
    drawn, session, second_nurse
):
    """The infusion chart's waste and cancellation audit a failed signature under their own
    category (the outer service's); events written before the service contract said
    ``"refused": "witness_password"``. Both count."""
    from painclinic.web.audit.services import audit

    for detail in (
        {"service": "do_waste_remainder", "field": "witness_password"},
        {"refused": "witness_password"},
    ):
        for _ in range(2):
            audit(
                drawn,
                category=Category.INFUSION,
                action=Action.CREATE,
                outcome=Outcome.DENIED,
                detail={**detail, "witness_id": second_nurse.pk},
            )
    # Another witness's failures and other refusals on the same field do not count.
    audit(
        drawn,
        category="drug_register",
        action=Action.CREATE,
        outcome=Outcome.DENIED,
        detail={"field": "witness_password", "witness_id": second_nurse.pk + 1000},
    )
    with pytest.raises(DrugRegisterError):
        waste(drawn, session, witness=second_nurse, witness_password="guess")  # the fifth
    error, _ = refused_once(
        lambda: waste(drawn, session, witness=second_nurse),
        service="do_record_waste",
        patient=session.patient,
    )
    assert "Too many wrong passwords" in error.message
