"""The chart's waste step: the remainder of a controlled drug is wasted, witnessed, before the
note is signed. Computed from the register's draws and the delivered rates, never typed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.drugregister.models import EntryKind, RegisterEntry
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import (
    NoteInput,
    ObservationInput,
    StartInput,
    StopInput,
    WasteRemainderInput,
)
from painclinic.web.infusions.models import SessionEvent, SessionNote, SessionStatus
from painclinic.web.infusions.rules import Refused
from painclinic.web.infusions.waste import waste_due
from tests.conftest import PASSWORD, logged_in_client
from tests.web.infusions.conftest import (
    charted_at,
    check_input,
    fresh,
    make_booking,
    make_plan,
    make_request,
    prep_input,
    run_to,
    waste_remainder,
)

pytestmark = pytest.mark.django_db


def stopped(session, nurse, nurse2, minutes: int = 60):
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    services.do_stop(
        make_request(nurse), s.pk, s.version, StopInput(start + dt.timedelta(minutes=minutes))
    )
    return fresh(s)


def sign(session, user):
    s = fresh(session)
    return services.do_save_note(
        make_request(user), s.pk, s.version, NoteInput("Summary", sign=True)
    )


def test_the_remainder_is_drawn_minus_delivered(session, nurse, nurse2):
    s = stopped(session, nurse, nurse2)
    due = waste_due(s)
    assert due is not None
    assert (due.drawn_mg, due.delivered_mg, due.remainder_mg) == (100, 25, 75)
    assert due.remainder == "75 mg"


def test_signing_is_refused_while_a_remainder_is_unwasted(session, nurse, nurse2, physician):
    s = stopped(session, nurse, nurse2)
    with pytest.raises(Refused, match="75 mg of ketamine"):
        sign(s, physician)
    assert not SessionNote.objects.exists()
    assert fresh(s).status == SessionStatus.STOPPED


def test_witnessed_waste_goes_into_the_register_with_a_session_event(
    session, nurse, nurse2, physician
):
    s = stopped(session, nurse, nurse2)
    entry = waste_remainder(s, nurse, nurse2)
    assert entry.kind == EntryKind.WASTE and entry.amount_mg == Decimal("75.00")
    assert entry.witness == nurse2 and entry.recorded_by == nurse and entry.session_id == s.pk
    assert entry.stock_change_mg == 0  # it left the stock when it was drawn
    event = SessionEvent.objects.get(session=s, kind="waste")
    assert "75 mg" in event.summary and event.version == fresh(s).version
    chained = AuditEvent.objects.filter(detail__event="waste").get()
    assert chained.detail["register_entry_id"] == entry.pk
    assert chained.detail["amount_mg"] == "75.00"
    assert AuditEvent.objects.filter(category="drug_register", detail__kind="waste").exists()
    assert waste_due(fresh(s)).outstanding is False
    sign(s, physician)
    assert fresh(s).status == SessionStatus.SIGNED


def test_nothing_left_means_no_second_waste(session, nurse, nurse2):
    s = stopped(session, nurse, nurse2)
    waste_remainder(s, nurse, nurse2)
    with pytest.raises(Refused, match="Nothing is left"):
        waste_remainder(s, nurse, nurse2)
    assert RegisterEntry.objects.filter(kind=EntryKind.WASTE).count() == 1


def test_a_wrong_witness_password_is_refused_audited_and_nothing_saved(session, nurse, nurse2):
    s = stopped(session, nurse, nurse2)
    with pytest.raises(Refused) as refused:
        services.do_waste_remainder(
            make_request(nurse),
            s.pk,
            s.version,
            WasteRemainderInput(witness=nurse2.pk, witness_password="x"),
        )
    assert refused.value.field == "witness_password"
    assert not RegisterEntry.objects.filter(kind=EntryKind.WASTE).exists()
    assert fresh(s).version == s.version
    # The failed signature stays on record: it counts towards the witness lock-out.
    assert AuditEvent.objects.filter(
        outcome="denied", detail__field="witness_password", detail__witness_id=nurse2.pk
    ).exists()


def test_the_nurse_cannot_witness_her_own_waste(session, nurse, nurse2):
    s = stopped(session, nurse, nurse2)
    with pytest.raises(Refused) as refused:
        services.do_waste_remainder(
            make_request(nurse),
            s.pk,
            s.version,
            WasteRemainderInput(witness=nurse.pk, witness_password=PASSWORD),
        )
    assert refused.value.field == "witness"
    assert not RegisterEntry.objects.filter(kind=EntryKind.WASTE).exists()


def test_no_waste_step_before_the_stop(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    with pytest.raises(Refused, match="running"):
        waste_remainder(s, nurse, nurse2)
    assert not RegisterEntry.objects.filter(kind=EntryKind.WASTE).exists()


def test_only_a_nurse_records_the_waste(session, nurse, nurse2, physician):
    s = stopped(session, nurse, nurse2)
    with pytest.raises(PermissionDenied):
        services.do_waste_remainder(
            make_request(physician),
            s.pk,
            s.version,
            WasteRemainderInput(witness=nurse2.pk, witness_password=PASSWORD),
        )


def test_a_bag_that_failed_its_double_check_is_part_of_the_remainder(session, nurse, nurse2):
    start = fresh(session).booking.starts_at
    with charted_at(start - dt.timedelta(minutes=15)):
        s = run_to(session, "checklist", nurse, nurse2)
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
        s = fresh(s)
        services.do_double_check(
            make_request(nurse2), s.pk, s.version, check_input(pump_rate_entered_ml_per_h=250)
        )
        s = fresh(s)
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
        s = fresh(s)
        services.do_double_check(make_request(nurse2), s.pk, s.version, check_input())
    s = fresh(s)
    services.do_start(make_request(nurse), s.pk, s.version, StartInput(start))
    s = fresh(s)
    services.do_stop(
        make_request(nurse), s.pk, s.version, StopInput(start + dt.timedelta(minutes=60))
    )
    due = waste_due(fresh(s))
    assert (due.drawn_mg, due.remainder_mg) == (200, 175)


def test_lidocaine_has_no_waste_step(patient, physician, users, nurse, nurse2, client_for):
    plan = make_plan(patient, physician, protocol_id="lid-5mgkg-60min")
    booking = make_booking(plan, users[Role.FRONT_DESK])
    session = services.do_open_session(make_request(nurse), booking.pk)
    assert waste_due(session) is None
    body = client_for(Role.NURSE).get(f"/infusions/{session.pk}/").content.decode()
    assert "Controlled drug" not in body


def test_the_chart_form_records_the_waste(session, nurse, nurse2, users):
    s = stopped(session, nurse, nurse2)
    client = logged_in_client(users[Role.NURSE])
    url = reverse("infusions:waste", kwargs={"session_id": s.pk})
    bad = client.post(
        url, {"expected_version": s.version, "witness": nurse2.pk, "witness_password": "nope"}
    )
    assert bad.status_code == 200 and "password is not correct" in bad.content.decode()
    response = client.post(
        url, {"expected_version": s.version, "witness": nurse2.pk, "witness_password": PASSWORD}
    )
    assert response.status_code == 302
    body = client.get(reverse("infusions:session", kwargs={"session_id": s.pk})).content
    assert "nothing left to waste" in body.decode()
    assert RegisterEntry.objects.get(kind=EntryKind.WASTE).amount_mg == Decimal("75.00")


def test_a_stale_waste_form_is_a_conflict(session, nurse, nurse2):
    s = stopped(session, nurse, nurse2)
    services.do_record_observation(
        make_request(nurse),
        s.pk,
        s.version,
        ObservationInput(
            observed_at=s.segments.first().ended_at,
            systolic_bp_mmhg=120,
            diastolic_bp_mmhg=70,
            heart_rate_bpm=70,
            respiratory_rate_per_min=14,
            spo2_percent=98,
            rass=0,
        ),
    )
    with pytest.raises(services.SessionConflict):
        services.do_waste_remainder(
            make_request(nurse),
            s.pk,
            s.version,
            WasteRemainderInput(witness=nurse2.pk, witness_password=PASSWORD),
        )
    assert not RegisterEntry.objects.filter(kind=EntryKind.WASTE).exists()
