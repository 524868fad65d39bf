"""The chart's hand-built reads (web/lib/rowreads.py) return what the ORM returns."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from painclinic.web.infusions import services
from painclinic.web.infusions.access import SESSION_READ
from painclinic.web.infusions.models import (
    BagPreparation,
    InfusionSession,
    Observation,
    RateSegment,
    SessionEvent,
)
from painclinic.web.lib.rowreads import joined_row, joined_rows, rows_in, rows_where
from painclinic.web.treatments.models import PlannedSession

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
        {
            "observed_at": timezone.now() - dt.timedelta(minutes=5),
            "systolic_bp_mmhg": 125,
            "diastolic_bp_mmhg": 75,
            "heart_rate_bpm": 72,
            "respiratory_rate_per_min": 14,
            "spo2_percent": 98,
            "rass": 0,
        },
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
