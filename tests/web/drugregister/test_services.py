"""Controlled-drug register rules: each one fired, and its neighbour that does not fire."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent, Outcome
from painclinic.web.drugregister.models import (
    Discrepancy,
    EntryKind,
    RegisterEntry,
    StockCount,
)
from painclinic.web.drugregister.services import (
    CountInput,
    DrugRegisterError,
    ReceiptInput,
    balance_mg,
    balances,
    do_record_count,
    do_record_destruction,
    do_record_draw,
    do_record_receipt,
    do_record_waste,
    do_resolve_discrepancy,
    lot_balance_mg,
    lots_in_stock,
    vial_concentrations,
)
from painclinic.web.lib.appendonly import AppendOnlyError
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def receive(request, *, conc="10", volume="5", vials=10, lot="K123", expiry=None, **extra):
    receipt = ReceiptInput(
        concentration_mg_per_ml=Decimal(conc),
        vial_volume_ml=Decimal(volume),
        vial_count=vials,
        lot=lot,
        expiry_date=expiry or timezone.localdate() + dt.timedelta(days=365),
        supplier="Sandoz Canada",
        reference="INV-001",
        **extra,
    )
    return do_record_receipt(request, receipt)


def test_concentrations_come_from_the_drug_library():
    assert vial_concentrations() == (Decimal("10.00"), Decimal("50.00"), Decimal("100.00"))


def test_receipt_adds_vials_times_volume_times_concentration(users, request_as):
    nurse = request_as(users[Role.NURSE])
    entry = receive(nurse, conc="50", volume="10", vials=5)
    assert entry.amount_mg == Decimal("2500.00") == entry.stock_change_mg
    assert balance_mg(Decimal("50.00")) == Decimal("2500")
    assert balance_mg(Decimal("10.00")) == 0
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.category == "drug_register" and event.detail["lot"] == "K123"


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("concentration_mg_per_ml", {"conc": "25"}),
        ("concentration_mg_per_ml", {"conc": "1"}),  # a bag concentration, not a vial
        ("vial_volume_ml", {"volume": "0"}),
        ("vial_count", {"vials": 0}),
        ("lot", {"lot": "  "}),
        ("expiry_date", {"expiry": dt.date(2020, 1, 1)}),
    ],
)
def test_bad_receipts_are_refused_naming_the_field_and_nothing_is_saved(
    users, request_as, field, overrides
):
    before = (RegisterEntry.objects.count(), AuditEvent.objects.count())
    with pytest.raises(DrugRegisterError) as error:
        receive(request_as(users[Role.NURSE]), **overrides)
    assert error.value.field == field
    # Nothing saved; the refusal itself is on record (one denied event naming the field).
    assert (RegisterEntry.objects.count(), AuditEvent.objects.count()) == (before[0], before[1] + 1)
    refused = AuditEvent.objects.order_by("-sequence").first()
    assert refused.outcome == Outcome.DENIED and refused.detail["field"] == field


def test_a_lot_keeps_one_concentration(users, request_as):
    nurse = request_as(users[Role.NURSE])
    receive(nurse, conc="10", lot="L1")
    with pytest.raises(DrugRegisterError) as error:
        receive(nurse, conc="100", lot="L1")
    assert error.value.field == "lot"
    receive(nurse, conc="10", lot="L1")  # a second delivery of the same lot is fine


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN])
def test_only_nurses_receive(users, request_as, role):
    with pytest.raises(PermissionDenied):
        receive(request_as(users[role]))
    assert RegisterEntry.objects.count() == 0


def test_draw_reduces_the_balance_of_its_concentration_only(users, request_as, session):
    nurse = request_as(users[Role.NURSE])
    receive(nurse, conc="10", volume="5", vials=2, lot="A")  # 100 mg
    receive(nurse, conc="50", volume="10", vials=1, lot="B")  # 500 mg
    entry = do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg="80", lot="A")
    assert entry.stock_change_mg == Decimal("-80") and entry.patient == session.patient
    assert balance_mg(Decimal("10")) == Decimal("20")
    assert balance_mg(Decimal("50")) == Decimal("500")
    rows = {b.concentration_mg_per_ml: b for b in balances()}
    assert rows[Decimal("10.00")].balance_mg == Decimal("20")
    assert rows[Decimal("10.00")].vials_equivalent == Decimal("0.4")
    assert rows[Decimal("10.00")].balance_ml == Decimal("2.00")
    assert rows[Decimal("100.00")].vials_equivalent is None


def test_overdraw_is_refused(users, request_as, session):
    nurse = request_as(users[Role.NURSE])
    receive(nurse, conc="10", volume="5", vials=2, lot="A")  # 100 mg
    with pytest.raises(DrugRegisterError) as error:
        do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg="100.01", lot="A")
    assert error.value.field == "amount_mg"
    do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg="100", lot="A")
    assert balance_mg(Decimal("10")) == 0


def test_a_draw_cannot_exceed_its_lot_even_if_the_concentration_has_more(
    users, request_as, session
):
    nurse = request_as(users[Role.NURSE])
    receive(nurse, conc="10", volume="5", vials=1, lot="A")  # 50 mg
    receive(nurse, conc="10", volume="5", vials=1, lot="B")  # 50 mg
    with pytest.raises(DrugRegisterError) as error:
        do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg="60", lot="A")
    assert error.value.field == "amount_mg"


def test_expired_lot_is_refused_and_a_lot_expiring_today_is_not(users, request_as, session):
    nurse = request_as(users[Role.NURSE])
    today = timezone.localdate()
    receive(nurse, lot="OLD", expiry=today + dt.timedelta(days=2))
    receive(nurse, lot="TODAY", expiry=today + dt.timedelta(days=3))
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        with pytest.raises(DrugRegisterError) as error:
            do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg="5", lot="OLD")
        assert error.value.field == "lot" and "expired" in str(error.value)
        do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg="5", lot="TODAY")


def test_unknown_lot_or_wrong_concentration_for_the_lot_is_refused(users, request_as, session):
    nurse = request_as(users[Role.NURSE])
    receive(nurse, conc="10", lot="A")
    for conc, lot in [("10", "NOPE"), ("100", "A")]:
        with pytest.raises(DrugRegisterError) as error:
            do_record_draw(nurse, session, concentration_mg_per_ml=conc, amount_mg="5", lot=lot)
        assert error.value.field == "lot"


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.234"])
def test_bad_draw_amounts_are_refused(users, request_as, session, amount):
    nurse = request_as(users[Role.NURSE])
    receive(nurse)
    before = RegisterEntry.objects.count()
    with pytest.raises(DrugRegisterError) as error:
        do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg=amount, lot="K123")
    assert error.value.field == "amount_mg"
    assert RegisterEntry.objects.count() == before


def test_lidocaine_session_has_nothing_to_draw(users, request_as, patient):
    from tests.web.scheduling.factories import make_booking, make_chair, make_plan, make_session

    plan = make_plan(patient, users[Role.PHYSICIAN], sessions=1, drug="lidocaine")
    booking = make_booking(
        patient, make_chair(), users[Role.FRONT_DESK], timezone.localdate(), plan=plan
    )
    with pytest.raises(DrugRegisterError) as error:
        do_record_draw(
            request_as(users[Role.NURSE]),
            make_session(booking),
            concentration_mg_per_ml="10",
            amount_mg="5",
            lot="X",
        )
    assert error.value.field == "session"


def _drawn(users, request_as, session, amount="50"):
    nurse = request_as(users[Role.NURSE])
    receive(nurse, conc="10", volume="10", vials=1, lot="A")
    do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg=amount, lot="A")
    return nurse


def test_witnessed_waste_is_recorded_and_leaves_the_balance_alone(
    users, request_as, session, second_nurse
):
    nurse = _drawn(users, request_as, session)
    entry = do_record_waste(
        nurse,
        session,
        concentration_mg_per_ml="10",
        amount_mg="20",
        witness=second_nurse,
        witness_password=PASSWORD,
        reason="Remainder of the bag after the infusion was stopped",
    )
    assert entry.witness == second_nurse and entry.lot == "A"
    assert balance_mg(Decimal("10")) == Decimal("50")
    # A physician may witness too (given by id).
    do_record_waste(
        nurse,
        session,
        concentration_mg_per_ml="10",
        amount_mg="30",
        witness=users[Role.PHYSICIAN].pk,
        witness_password=PASSWORD,
        reason="rest",
    )


def test_waste_witnessed_by_the_same_person_is_refused(users, request_as, session):
    nurse = _drawn(users, request_as, session)
    before = RegisterEntry.objects.count()
    with pytest.raises(DrugRegisterError) as error:
        do_record_waste(
            nurse,
            session,
            concentration_mg_per_ml="10",
            amount_mg="5",
            witness=users[Role.NURSE],
            witness_password=PASSWORD,
            reason="x",
        )
    assert error.value.field == "witness"
    assert RegisterEntry.objects.count() == before
    refused = AuditEvent.objects.order_by("-sequence").first()
    assert refused.outcome == Outcome.DENIED and refused.detail["field"] == "witness"


def test_waste_with_the_wrong_witness_password_is_refused(users, request_as, session, second_nurse):
    nurse = _drawn(users, request_as, session)
    with pytest.raises(DrugRegisterError) as error:
        do_record_waste(
            nurse,
            session,
            concentration_mg_per_ml="10",
            amount_mg="5",
            witness=second_nurse,
            witness_password="not-the-password",
            reason="x",
        )
    assert error.value.field == "witness_password"
    assert not RegisterEntry.objects.filter(kind=EntryKind.WASTE).exists()


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN])
def test_waste_witness_must_be_clinical(users, request_as, session, role):
    nurse = _drawn(users, request_as, session)
    with pytest.raises(DrugRegisterError) as error:
        do_record_waste(
            nurse,
            session,
            concentration_mg_per_ml="10",
            amount_mg="5",
            witness=users[role],
            witness_password=PASSWORD,
            reason="x",
        )
    assert error.value.field == "witness"


def test_waste_cannot_exceed_what_was_drawn(users, request_as, session, second_nurse):
    nurse = _drawn(users, request_as, session, amount="50")
    kwargs = {"witness": second_nurse, "witness_password": PASSWORD, "reason": "x"}
    do_record_waste(nurse, session, concentration_mg_per_ml="10", amount_mg="40", **kwargs)
    with pytest.raises(DrugRegisterError) as error:
        do_record_waste(nurse, session, concentration_mg_per_ml="10", amount_mg="10.01", **kwargs)
    assert error.value.field == "amount_mg"


def test_waste_needs_a_reason(users, request_as, session, second_nurse):
    nurse = _drawn(users, request_as, session)
    with pytest.raises(DrugRegisterError) as error:
        do_record_waste(
            nurse,
            session,
            concentration_mg_per_ml="10",
            amount_mg="5",
            witness=second_nurse,
            witness_password=PASSWORD,
            reason=" ",
        )
    assert error.value.field == "reason"


def count(request, *, conc="10", full=2, volume="5", open_ml="0"):
    return do_record_count(
        request,
        CountInput(
            concentration_mg_per_ml=Decimal(conc),
            full_vials=full,
            vial_volume_ml=Decimal(volume),
            open_vial_ml=Decimal(open_ml),
        ),
    )


def test_a_matching_count_opens_no_discrepancy(users, request_as):
    nurse = request_as(users[Role.NURSE])
    receive(nurse, conc="10", volume="5", vials=2)
    result = count(nurse, full=2)
    assert result.counted_mg == result.computed_mg == Decimal("100")
    assert not Discrepancy.objects.exists()


def test_count_mismatch_opens_a_discrepancy_that_a_physician_resolves(users, request_as):
    nurse = request_as(users[Role.NURSE])
    receive(nurse, conc="10", volume="5", vials=2)  # 100 mg
    result = count(nurse, full=1, open_ml="2.5")  # 75 mg
    discrepancy = result.discrepancy
    assert discrepancy.difference_mg == Decimal("-25")
    # No further count at that concentration until it is resolved; other concentrations are fine.
    with pytest.raises(DrugRegisterError) as error:
        count(nurse, full=1, open_ml="2.5")
    assert error.value.field == "concentration_mg_per_ml"
    count(nurse, conc="50", full=0)
    # A nurse cannot resolve; a short explanation is refused.
    with pytest.raises(PermissionDenied):
        do_resolve_discrepancy(nurse, discrepancy.pk, "Vial broken during the count.")
    physician = request_as(users[Role.PHYSICIAN])
    with pytest.raises(DrugRegisterError) as error:
        do_resolve_discrepancy(physician, discrepancy.pk, "oops")
    assert error.value.field == "explanation"
    resolution = do_resolve_discrepancy(physician, discrepancy.pk, "Vial dropped and broken.")
    assert resolution.adjustment.stock_change_mg == Decimal("-25")
    assert balance_mg(Decimal("10")) == Decimal("75")
    with pytest.raises(DrugRegisterError):
        do_resolve_discrepancy(request_as(users[Role.CLINIC_ADMIN]), discrepancy.pk, "again, twice")
    assert count(nurse, full=1, open_ml="2.5").counted_mg == Decimal("75")
    assert Discrepancy.objects.count() == 1


def test_the_register_is_append_only(users, request_as):
    entry = receive(request_as(users[Role.NURSE]))
    entry.amount_mg = Decimal("1")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        RegisterEntry.objects.filter(pk=entry.pk).update(amount_mg=1)
    with pytest.raises(AppendOnlyError):
        RegisterEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        StockCount.objects.all().delete()


operations = st.lists(
    st.tuples(
        st.sampled_from(["receive", "draw"]),
        st.sampled_from(["10", "50", "100"]),
        st.integers(min_value=1, max_value=400),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=15)
@given(ops=operations)
def test_balance_equals_an_independent_sum_of_what_was_accepted(users, request_as, session, ops):
    nurse = request_as(users[Role.NURSE])
    expected = {c: sum_for(c) for c in ("10", "50", "100")}
    for op, conc, amount in ops:
        if op == "receive":
            receive(nurse, conc=conc, volume="1", vials=amount, lot=f"L{conc}")
            expected[conc] += Decimal(conc) * amount
        else:
            try:
                do_record_draw(
                    nurse, session, concentration_mg_per_ml=conc, amount_mg=amount, lot=f"L{conc}"
                )
            except DrugRegisterError as error:
                assert error.field in ("amount_mg", "lot")
                assert amount > expected[conc] or expected[conc] == 0
            else:
                assert amount <= expected[conc]
                expected[conc] -= amount
    for conc, value in expected.items():
        assert balance_mg(Decimal(conc)) == value
        assert lot_balance_mg(f"L{conc}", Decimal(conc)) == value


def sum_for(conc: str) -> Decimal:
    """Independent: received minus drawn, from the raw rows in Python."""
    total = Decimal(0)
    for entry in RegisterEntry.objects.filter(concentration_mg_per_ml=Decimal(conc)):
        if entry.kind == EntryKind.RECEIPT:
            total += entry.vial_count * entry.vial_volume_ml * entry.concentration_mg_per_ml
        elif entry.kind == EntryKind.DRAW:
            total -= entry.amount_mg
    return total


def test_repeated_wrong_witness_passwords_lock_the_witness(
    users, request_as, session, second_nurse
):
    nurse = _drawn(users, request_as, session)
    kwargs = {"concentration_mg_per_ml": "10", "amount_mg": "5", "reason": "x"}
    for _ in range(5):
        with pytest.raises(DrugRegisterError):
            do_record_waste(
                nurse, session, witness=second_nurse, witness_password="guess", **kwargs
            )
    with pytest.raises(DrugRegisterError) as error:
        do_record_waste(nurse, session, witness=second_nurse, witness_password=PASSWORD, **kwargs)
    assert "Too many" in str(error.value)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        do_record_waste(nurse, session, witness=second_nurse, witness_password=PASSWORD, **kwargs)


def test_expired_stock_is_destroyed_witnessed_and_leaves_the_lot(
    users, request_as, session, second_nurse
):
    nurse = request_as(users[Role.NURSE])
    today = timezone.localdate()
    receive(nurse, conc="10", volume="5", vials=2, lot="OLD", expiry=today + dt.timedelta(days=1))
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        [stock] = lots_in_stock()
        assert stock.expired and stock.balance_mg == Decimal("100")
        kwargs = {"concentration_mg_per_ml": "10", "lot": "OLD", "reason": "expired"}
        with pytest.raises(DrugRegisterError) as error:
            do_record_destruction(
                nurse,
                amount_mg="100",
                witness=users[Role.NURSE],
                witness_password=PASSWORD,
                **kwargs,
            )
        assert error.value.field == "witness"
        with pytest.raises(DrugRegisterError) as error:
            do_record_destruction(
                nurse, amount_mg="100.01", witness=second_nurse, witness_password=PASSWORD, **kwargs
            )
        assert error.value.field == "amount_mg"
        do_record_destruction(
            nurse, amount_mg="100", witness=second_nurse, witness_password=PASSWORD, **kwargs
        )
        assert lots_in_stock() == []
        assert balance_mg(Decimal("10")) == 0
        assert lot_balance_mg("OLD", Decimal("10")) == 0
