"""The chart's hand-built reads (web/lib/rowreads.py) return what the ORM returns."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.infusions import services
from painclinic.web.infusions.access import SESSION_READ
from painclinic.web.infusions.inputs import ObservationInput
from painclinic.web.infusions.models import (
    BagPreparation,
    InfusionSession,
    Observation,
    RateSegment,
    SessionEvent,
)
from painclinic.web.lib.rowreads import joined_row, joined_rows, rows_in, rows_where
from painclinic.web.scheduling.models import Booking, Chair
from painclinic.web.treatments.models import PlannedSession
from tests.web.scheduling.factories import make_booking as make_scheduling_booking
from tests.web.scheduling.factories import make_chair, make_session, next_weekday
from tests.web.scheduling.factories import make_plan as make_scheduling_plan

from .conftest import make_request, run_to

pytestmark = pytest.mark.django_db


def _related(instance, path: str):
    for name in path.split("__") if path else []:
        instance = getattr(instance, name)
    return instance


def test_joined_row_matches_the_orm_field_by_field_in_one_query(session, nurse, nurse2):
    run_to(session, "running", nurse, nurse2)
    expected = InfusionSession.objects.select_related(
        "patient", "plan", "plan__weight", "planned_session", "booking", "booking__chair"
    ).get(pk=session.pk)
    with CaptureQueriesContext(connection) as queries:
        found = joined_row(
            InfusionSession,
            session.pk,
            SESSION_READ,
            counts={"plan_session_count": (PlannedSession, "plan", "plan")},
        )
        assert found is not None
        for path, names in SESSION_READ.items():
            mine, theirs = _related(found, path), _related(expected, path)
            fields = names or [f.name for f in type(theirs)._meta.concrete_fields]
            for name in fields:
                field = type(theirs)._meta.get_field(name)
                attname = getattr(field, "attname", name)
                assert getattr(mine, attname) == getattr(theirs, attname), (path, name)
                assert type(getattr(mine, attname)) is type(getattr(theirs, attname)), (path, name)
    assert len(queries) == 1  # nothing the chart reads is loaded lazily
    assert found.plan_session_count == PlannedSession.objects.filter(plan=session.plan).count()
    assert isinstance(found.booking.starts_at, dt.datetime) and found.booking.starts_at.tzinfo


def test_joined_row_of_a_missing_id_is_none(db):
    assert joined_row(InfusionSession, 987_654, SESSION_READ) is None


def test_a_field_left_out_still_loads_on_access(session):
    found = joined_row(InfusionSession, session.pk, {"": (), "patient": ("legal_family_name",)})
    assert found is not None
    with CaptureQueriesContext(connection) as queries:
        assert found.patient.health_card_number == session.patient.health_card_number
    assert len(queries) == 1


def test_rows_where_and_rows_in_match_the_orm(session, nurse, nurse2):
    running = run_to(session, "running", nurse, nurse2)
    services.do_record_observation(
        make_request(nurse),
        running.pk,
        running.version,
        ObservationInput(
            observed_at=timezone.now() - dt.timedelta(minutes=5),
            systolic_bp_mmhg=125,
            diastolic_bp_mmhg=75,
            heart_rate_bpm=72,
            respiratory_rate_per_min=14,
            spo2_percent=98,
            rass=0,
        ),
    )
    assert Observation.objects.filter(session=session).count() == 1
    for model, order in (
        (RateSegment, ("started_at", "id")),
        (Observation, ("observed_at", "id")),
        (BagPreparation, ("prepared_at", "id")),
    ):
        mine = rows_where(model, "session", session, order_by=order)
        theirs = list(model.objects.filter(session=session).order_by(*order))
        assert [r.pk for r in mine] == [r.pk for r in theirs]
        for a, b in zip(mine, theirs, strict=True):
            for field in model._meta.concrete_fields:
                assert getattr(a, field.attname) == getattr(b, field.attname), field.name
    newest = rows_where(SessionEvent, "session", session, order_by=("-version",), limit=2)
    assert [e.version for e in newest] == list(
        SessionEvent.objects.filter(session=session)
        .order_by("-version")
        .values_list("version", flat=True)[:2]
    )
    assert len(newest) == 2
    users = rows_in(type(nurse), "id", [nurse.pk, nurse2.pk], only=("username",))
    assert sorted(u.username for u in users) == sorted([nurse.username, nurse2.username])
    assert rows_in(type(nurse), "id", []) == []


def test_values_are_parameters_and_only_known_operators_are_accepted(session, nurse):
    # Safety checklist #27: input never becomes SQL. A quote-laden value matches nothing.
    user_model = type(nurse)
    hostile = f"{nurse.username}' OR '1'='1"
    assert rows_where(user_model, "username", hostile) == []
    assert [u.pk for u in rows_where(user_model, "username", nurse.username)] == [nurse.pk]
    with pytest.raises(ValueError, match="unsupported operator"):
        joined_rows(InfusionSession, {"": ()}, where=[("status", "; DROP TABLE x --", "a")])
    with pytest.raises(FieldDoesNotExist):
        rows_where(user_model, "username; DROP TABLE x", "a")  # not a field of the model


@pytest.mark.parametrize("huge", [10**30, 2**63, -(2**63) - 1])
def test_a_value_beyond_the_columns_range_is_answered_as_the_orm_answers_it(session, huge):
    # The ORM decides such a lookup without the database (SQLite's driver cannot even bind an
    # integer past 64 bits): "=" matches nothing, "!=" everything, "<"/">" one or the other.
    assert InfusionSession.objects.filter(pk=huge).first() is None
    with CaptureQueriesContext(connection) as queries:
        assert joined_row(InfusionSession, huge, SESSION_READ) is None
        assert rows_where(RateSegment, "session", huge) == []
        assert rows_in(InfusionSession, "id", [huge]) == []
    assert len(queries) == 0
    assert [s.pk for s in rows_in(InfusionSession, "id", [huge, session.pk])] == [session.pk]
    for operator, lookup in (("!=", None), ("<", "lt"), ("<=", "lte"), (">", "gt"), (">=", "gte")):
        mine = joined_rows(InfusionSession, {"": ("status",)}, where=[("id", operator, huge)])
        orm = (
            InfusionSession.objects.exclude(pk=huge)
            if lookup is None
            else InfusionSession.objects.filter(**{f"pk__{lookup}": huge})
        )
        assert [s.pk for s in mine] == [s.pk for s in orm], operator


# --- join promotion -----------------------------------------------------------------------
# Booking.plan and Booking.planned_session are nullable; TreatmentPlan.weight and
# PlannedSession.plan are not. Below the nullable link every join must stay LEFT, or a
# booking without a plan (a consultation chair booking) drops out of the read.
BOOKING_CHAIN: dict[str, tuple[str, ...]] = {
    "": (),
    "patient": ("legal_given_name", "legal_family_name", "preferred_name"),
    "chair": ("name",),
    "plan": ("drug", "weight"),
    "plan__weight": ("weight_kg", "measured_on"),
    "planned_session": ("plan", "number"),
    "planned_session__plan": ("drug",),
}


def _walk(instance, path: str):
    """Like ``_related``, but a missing relation on the way is None (not an AttributeError)."""
    for name in path.split("__") if path else []:
        if instance is None:
            return None
        instance = getattr(instance, name)
    return instance


def _compare_with_select_related(found: Booking, expected: Booking) -> None:
    for path, names in BOOKING_CHAIN.items():
        mine, theirs = _walk(found, path), _walk(expected, path)
        if theirs is None:
            assert mine is None, path
            continue
        fields = names or [f.name for f in type(theirs)._meta.concrete_fields]
        for name in fields:
            attname = getattr(type(theirs)._meta.get_field(name), "attname", name)
            assert getattr(mine, attname) == getattr(theirs, attname), (path, name)


def _bookings_with_and_without_a_plan(users, patient):
    chair = make_chair("Hostile-free chair")
    day = next_weekday(1)
    plan = make_scheduling_plan(patient, users[Role.PHYSICIAN])
    planned = make_scheduling_booking(
        patient, chair, users[Role.FRONT_DESK], day, "09:00", plan=plan
    )
    unplanned = make_scheduling_booking(patient, chair, users[Role.FRONT_DESK], day, "14:00")
    assert unplanned.plan_id is None and unplanned.planned_session_id is None
    return planned, unplanned


def test_joins_below_a_nullable_relation_stay_left_joins(users, patient):
    planned, unplanned = _bookings_with_and_without_a_plan(users, patient)
    with CaptureQueriesContext(connection) as queries:
        found = joined_rows(
            Booking,
            BOOKING_CHAIN,
            where=[("id", "in", [planned.pk, unplanned.pk])],
            order_by=("starts_at",),
        )
    assert len(queries) == 1
    # The booking without a plan is still there, with its missing relations as None ...
    assert [b.pk for b in found] == [planned.pk, unplanned.pk]
    # (four LEFT joins: plan, its weight, planned session, its plan; patient and chair inner)
    joins = re.findall(r"(LEFT OUTER|LEFT|INNER) JOIN", queries[0]["sql"].upper())
    assert sorted(joins) == [
        "INNER",
        "INNER",
        "LEFT OUTER",
        "LEFT OUTER",
        "LEFT OUTER",
        "LEFT OUTER",
    ]
    expected = {
        b.pk: b
        for b in Booking.objects.select_related(
            "patient", "chair", "plan__weight", "planned_session__plan"
        ).filter(pk__in=[planned.pk, unplanned.pk])
    }
    # ... exactly as the ORM's select_related read returns it, field by field.
    for booking in found:
        _compare_with_select_related(booking, expected[booking.pk])
    without = found[1]
    with CaptureQueriesContext(connection) as lazy:
        assert without.plan is None and without.planned_session is None
        assert without.patient.legal_family_name == patient.legal_family_name
    assert len(lazy) == 0  # the NULLs are cached, not read again
    with_plan = found[0]
    assert with_plan.plan is not None and with_plan.plan.weight.weight_kg == Decimal("80.0")
    assert with_plan.planned_session is not None
    assert with_plan.planned_session.plan.drug == with_plan.plan.drug


def test_a_root_row_whose_nullable_relation_is_empty_is_returned_by_joined_row(users, patient):
    _, unplanned = _bookings_with_and_without_a_plan(users, patient)
    found = joined_row(Booking, unplanned.pk, BOOKING_CHAIN)
    assert found is not None and found.pk == unplanned.pk
    expected = Booking.objects.select_related(
        "patient", "chair", "plan__weight", "planned_session__plan"
    ).get(pk=unplanned.pk)
    _compare_with_select_related(found, expected)


def test_a_reverse_one_to_one_is_a_left_join_cached_both_ways(users, patient):
    # The chair board reads each booking with its infusion session (none until the chart is
    # opened), as select_related("infusion_session") would.
    planned, unplanned = _bookings_with_and_without_a_plan(users, patient)
    opened = make_session(planned)
    paths = {"": ("status",), "infusion_session": ("status",), "infusion_session__plan": ()}
    with CaptureQueriesContext(connection) as queries:
        found = joined_rows(
            Booking, paths, where=[("id", "in", [planned.pk, unplanned.pk])], order_by=("id",)
        )
        assert found[0].infusion_session.pk == opened.pk
        assert found[0].infusion_session.booking is found[0]  # the back link, cached
        assert found[0].infusion_session.plan.pk == planned.plan_id
        assert getattr(found[1], "infusion_session", None) is None
    assert len(queries) == 1
    expected = {
        b.pk: b
        for b in Booking.objects.select_related("infusion_session__plan").filter(
            pk__in=[planned.pk, unplanned.pk]
        )
    }
    mine, theirs = found[0].infusion_session, expected[planned.pk].infusion_session
    assert (mine.pk, mine.status) == (theirs.pk, theirs.status)
    for field in type(theirs.plan)._meta.concrete_fields:
        assert getattr(mine.plan, field.attname) == getattr(theirs.plan, field.attname), field
    with pytest.raises(Booking.infusion_session.RelatedObjectDoesNotExist):  # as the ORM's
        expected[unplanned.pk].infusion_session  # noqa: B018
    with pytest.raises(Booking.infusion_session.RelatedObjectDoesNotExist):
        found[1].infusion_session  # noqa: B018
    joins = re.findall(r"(LEFT OUTER|LEFT|INNER) JOIN", queries[0]["sql"].upper())
    assert joins == ["LEFT OUTER", "LEFT OUTER"]  # the session's plan: below a LEFT JOIN


# --- the database router -------------------------------------------------------------------


class _ReadsFrom:
    """A router that sends every read to one alias and remembers what it was asked."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.asked: list[type] = []

    def db_for_read(self, model, **hints):
        self.asked.append(model)
        return self.alias

    def db_for_write(self, model, **hints):
        return None


@pytest.fixture
def replica(db):
    """A second alias, ``replica``: its own connection wrapper (its own query log, its own
    ``alias``) over the default database's open DB-API connection, so it sees this test's
    uncommitted rows. Whatever runs on it was sent there by the router, not by a fallback to
    the default connection. It is a dynamic alias (as Django's own tests make one), for this
    test only; the shared DB-API connection is handed back, not closed, afterwards.
    """
    default = connections["default"]
    default.ensure_connection()
    second = default.copy("replica")
    second.connection = default.connection
    connections["replica"] = second
    try:
        yield second
    finally:
        second.connection = None
        del connections["replica"]


def test_reads_go_through_the_router_to_the_alias_it_names(replica, users, patient):
    planned, unplanned = _bookings_with_and_without_a_plan(users, patient)
    routed = _ReadsFrom("replica")
    with (
        override_settings(DATABASE_ROUTERS=[routed]),
        CaptureQueriesContext(connections["default"]) as on_default,
        CaptureQueriesContext(replica) as on_replica,
    ):
        found = joined_rows(Booking, BOOKING_CHAIN, where=[("id", "in", [unplanned.pk])])
        one = joined_row(InfusionSession, 987_654, SESSION_READ)
        rows = rows_where(Chair, "name", "Hostile-free chair")
        users_in = rows_in(type(users[Role.NURSE]), "id", [users[Role.NURSE].pk])
    assert routed.asked[:2] == [Booking, InfusionSession]
    assert Chair in routed.asked and type(users[Role.NURSE]) in routed.asked
    assert len(on_replica) == 4 and len(on_default) == 0
    assert one is None
    assert [b.pk for b in found] == [unplanned.pk]
    assert found[0]._state.db == "replica" and found[0].chair._state.db == "replica"
    assert [c._state.db for c in rows] == ["replica"]
    assert [u._state.db for u in users_in] == ["replica"]
    # And with no router the same reads use the default database again.
    with CaptureQueriesContext(connections["default"]) as again:
        assert joined_row(Booking, planned.pk, BOOKING_CHAIN) is not None
    assert len(again) == 1
