"""Pages: role matrix, rendering at each stage, blind double check, conflicts, IDOR."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import (
    AdverseEventInput,
    ObservationInput,
    PrepareBagInput,
    StartInput,
    StopInput,
)
from painclinic.web.infusions.models import (
    AdverseEvent,
    Alert,
    BagPreparation,
    InfusionSession,
    Observation,
    SessionStatus,
)
from tests.conftest import logged_in_client, make_patient
from tests.web.infusions.conftest import (
    charted_at,
    check_input,
    dose_entry,
    fresh,
    make_booking,
    make_plan,
    make_request,
    prep_input,
    run_to,
)

pytestmark = pytest.mark.django_db

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)

# GET access per URL. "infusions:open" is POST-only: allowed roles get 405 on GET.
URL_MATRIX: dict[str, set[Role]] = {
    "infusions:open": {N},
    "infusions:open_off_day": {P},
    "infusions:serious_events": {P, N, A},
    "infusions:session": {P, N},
    "infusions:concentration_chart": {P, N},
    "infusions:checklist": {N},
    "infusions:prepare": {N},
    "infusions:double_check": {N},
    "infusions:start": {N},
    "infusions:pause": {N},
    "infusions:resume": {N},
    "infusions:rate_change": {N},
    "infusions:stop": {N},
    "infusions:observe": {N},
    "infusions:acknowledge": {P, N},
    "infusions:adverse_event": {P, N},
    "infusions:discharge": {N},
    "infusions:note": {P, N},
    "infusions:amend": {P, N},
    "infusions:waste": {N},
    "infusions:cancel": {P, N},
    "infusions:serious_events_to_report": {P, A},
    "infusions:mark_reported": {P, A},
}


def url(name: str, session: InfusionSession, alert_id: int = 0) -> str:
    if name in ("infusions:open", "infusions:open_off_day"):
        return reverse(name, kwargs={"booking_id": session.booking_id})
    if name in ("infusions:serious_events", "infusions:serious_events_to_report"):
        return reverse(name)
    if name == "infusions:mark_reported":
        event = AdverseEvent.objects.filter(session=session).first()
        return reverse(name, kwargs={"event_id": event.pk if event else 0})
    if name == "infusions:acknowledge":
        return reverse(name, kwargs={"session_id": session.pk, "alert_id": alert_id})
    return reverse(name, kwargs={"session_id": session.pk})


def _alert(session, nurse, nurse2) -> Alert:
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    services.do_record_observation(
        make_request(nurse),
        s.pk,
        s.version,
        ObservationInput(
            observed_at=start + dt.timedelta(minutes=15),
            systolic_bp_mmhg=190,
            diastolic_bp_mmhg=100,
            heart_rate_bpm=80,
            respiratory_rate_per_min=14,
            spo2_percent=97,
            rass=0,
        ),
    )
    s = fresh(s)
    services.do_record_adverse_event(
        make_request(nurse),
        s.pk,
        s.version,
        AdverseEventInput(
            occurred_at=start + dt.timedelta(minutes=16),
            event_type="hypertension",
            severity="severe",
            action_taken="Rate reduced",
            outcome="resolving",
        ),
    )
    return Alert.objects.get(session=s)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(role, users, session, nurse, nurse2):
    alert = _alert(session, nurse, nurse2)
    client = logged_in_client(users[role])
    for name, allowed in URL_MATRIX.items():
        response = client.get(url(name, session, alert.pk))
        if role in allowed:
            expected = 405 if name == "infusions:open" else 200
            assert response.status_code == expected, (name, role, response.status_code)
        else:
            assert response.status_code == 403, (name, role, response.status_code)


@pytest.mark.parametrize("role", [F, B, T], ids=lambda r: r.value)
def test_front_desk_billing_patient_cannot_chart(role, users, session, nurse, nurse2):
    """Every infusion URL refuses POSTs from roles that may not chart (nothing changes)."""
    alert = _alert(session, nurse, nurse2)
    client = logged_in_client(users[role])
    version = fresh(session).version
    for name in URL_MATRIX:
        response = client.post(url(name, session, alert.pk), {"expected_version": version})
        assert response.status_code == 403, (name, response.status_code)
    assert fresh(session).version == version


def test_physician_views_but_cannot_chart_vitals(users, session, client_for):
    client = client_for(P)
    assert client.get(url("infusions:session", session)).status_code == 200
    response = client.post(url("infusions:checklist", session), {"expected_version": 1})
    assert response.status_code == 403
    assert fresh(session).status == SessionStatus.SCHEDULED


def test_chart_renders_at_every_stage_and_audits_the_read(session, nurse, nurse2, client_for):
    client = client_for(N)
    chart = url("infusions:session", session)
    before = AuditEvent.objects.filter(action=Action.VIEW, patient=session.patient).count()
    body = client.get(chart).content.decode()
    assert "Complete the pre-infusion checklist" in body
    assert session.patient.full_name in body
    assert "KETAMINE" in body and "1 of 10" in body
    after = AuditEvent.objects.filter(action=Action.VIEW, patient=session.patient).count()
    assert after == before + 1
    start = timezone.now() - dt.timedelta(minutes=40)
    with charted_at(start - dt.timedelta(minutes=5)):
        run_to(session, "checklist", nurse, nurse2)
        assert "Prepare the bag" in client.get(chart).content.decode()
        services.do_prepare_bag(
            make_request(nurse), session.pk, fresh(session).version, prep_input()
        )
        assert "Independent double check" in client.get(chart).content.decode()
        services.do_double_check(
            make_request(nurse2), session.pk, fresh(session).version, check_input()
        )
        assert "Start the infusion" in client.get(chart).content.decode()
    with charted_at(start):
        services.do_start(
            make_request(nurse), session.pk, fresh(session).version, StartInput(start)
        )
    client = client_for(N)  # signed in again: the time travel idled out the other one
    body = client.get(chart).content.decode()
    assert "Record an observation" in body
    assert "overdue" in body  # +0 and +15 and +30 min are past their grace
    svg_url = reverse("infusions:concentration_chart", kwargs={"session_id": session.pk})
    assert svg_url in body
    svg = client.get(svg_url)
    assert svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content and b"dashed: plan" in svg.content
    for name in ("checklist", "prepare", "double_check", "observe", "rate_change", "stop", "pause"):
        assert client.get(url(f"infusions:{name}", session)).status_code == 200


def test_open_refuses_an_inactive_plan_naming_why(patient, physician, users, client_for):
    plan = make_plan(patient, physician, status="awaiting_cosign")
    booking = make_booking(plan, users[F])
    response = client_for(N).post(reverse("infusions:open", kwargs={"booking_id": booking.pk}))
    assert response.status_code == 409
    assert "co-signature" in response.content.decode()
    assert not InfusionSession.objects.filter(booking=booking).exists()


def test_open_creates_the_session_from_the_board(booking, client_for):
    response = client_for(N).post(reverse("infusions:open", kwargs={"booking_id": booking.pk}))
    session = InfusionSession.objects.get(booking=booking)
    assert response.status_code == 302
    assert response["Location"] == reverse("infusions:session", kwargs={"session_id": session.pk})


def test_double_check_page_is_blind(session, nurse, nurse2, users):
    """Nurse 2's form shows none of nurse 1's values: not in fields, hidden inputs or HTML."""
    run_to(session, "checklist", nurse, nurse2)
    entry = dose_entry(dose_value="0.3125", dose_unit="mg/kg/h")
    # 0.3125 mg/kg/h x 80 kg = 25 mg/h: nurse 1 used a distinctive spelling of the dose.
    services.do_prepare_bag(
        make_request(nurse), session.pk, fresh(session).version, PrepareBagInput(**entry)
    )
    body = logged_in_client(nurse2).get(url("infusions:double_check", session)).content.decode()
    assert "0.3125" not in body
    assert "KX123" not in body
    assert "mg/kg/h</option>" in body  # the unit list is offered, none pre-selected
    assert not re.search(r"<option[^>]*selected[^>]*>mg/kg/h", body)
    for name in ("dose_value", "pump_rate_entered_ml_per_h"):
        match = re.search(rf'<input[^>]*name="{name}"[^>]*>', body)
        assert match and "value=" not in match.group(0), match
    inputs = re.findall(r'<input[^>]*type="hidden"[^>]*>', body)
    assert all("expected_version" in i or "csrfmiddlewaretoken" in i for i in inputs)
    # Nor does the chart show nurse 1's entry while the check is pending.
    chart = logged_in_client(nurse2).get(url("infusions:session", session)).content.decode()
    assert "0.3125" not in chart and "KX123" not in chart


def test_same_nurse_double_check_page_says_so(session, nurse, nurse2):
    run_to(session, "checklist", nurse, nurse2)
    services.do_prepare_bag(make_request(nurse), session.pk, fresh(session).version, prep_input())
    body = logged_in_client(nurse).get(url("infusions:double_check", session)).content.decode()
    assert "must be done by a different nurse" in body


def test_mismatch_is_shown_field_by_field_on_the_chart(session, nurse, nurse2, client_for):
    run_to(session, "checklist", nurse, nurse2)
    services.do_prepare_bag(make_request(nurse), session.pk, fresh(session).version, prep_input())
    services.do_double_check(
        make_request(nurse2),
        session.pk,
        fresh(session).version,
        check_input(pump_rate_entered_ml_per_h="250"),
    )
    body = client_for(N).get(url("infusions:session", session)).content.decode()
    assert "Pump rate" in body and "250 mL/h" in body
    assert "may not be started" in body
    assert "Prepare the bag" in body  # a new preparation is the next step
    response = client_for(N).post(
        url("infusions:start", session),
        {
            "expected_version": fresh(session).version,
            "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 200
    assert "Cannot start" in response.content.decode()
    assert fresh(session).status == SessionStatus.CHECKLIST_DONE


def test_stale_form_gets_a_409_listing_what_changed(session, nurse, nurse2, client_for):
    s = run_to(session, "running", nurse, nurse2)
    stale_version = s.version
    start = s.segments.first().started_at
    services.do_record_observation(
        make_request(nurse2),
        s.pk,
        s.version,
        ObservationInput(
            observed_at=start + dt.timedelta(minutes=1),
            systolic_bp_mmhg=120,
            diastolic_bp_mmhg=70,
            heart_rate_bpm=70,
            respiratory_rate_per_min=14,
            spo2_percent=98,
            rass=0,
        ),
    )
    count = Observation.objects.count()
    response = client_for(N).post(
        url("infusions:observe", s),
        {
            "expected_version": stale_version,
            "observed_at": timezone.localtime(start + dt.timedelta(minutes=2)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "systolic_bp_mmhg": 125,
            "diastolic_bp_mmhg": 75,
            "heart_rate_bpm": 72,
            "respiratory_rate_per_min": 14,
            "spo2_percent": 98,
            "rass": "0",
        },
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Nothing you typed has been saved" in body
    assert "Observation BP 120/70" in body
    assert nurse2.display_name in body
    assert Observation.objects.count() == count
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == "conflict" and event.detail["changes"] == ["observation"]


def test_alert_from_another_session_is_404_and_audited(
    session, nurse, nurse2, patient, physician, users, client_for
):
    alert = _alert(session, nurse, nurse2)
    other_plan = make_plan(make_patient("Grace", "Hopper"), physician)
    other = services.do_open_session(make_request(nurse), make_booking(other_plan, users[F]).pk)
    before = AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count()
    response = client_for(N).get(
        reverse("infusions:acknowledge", kwargs={"session_id": other.pk, "alert_id": alert.pk})
    )
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count() == before + 1


def test_unknown_session_is_404_and_audited(db, users, client_for):
    before = AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count()
    response = client_for(N).get(reverse("infusions:session", kwargs={"session_id": 999999}))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count() == before + 1


def test_prepare_page_warns_about_ketamine_vials(session, nurse, nurse2, client_for):
    run_to(session, "checklist", nurse, nurse2)
    body = client_for(N).get(url("infusions:prepare", session)).content.decode()
    assert "10 mg/mL, 50 mg/mL, 100 mg/mL" in body
    assert "tenfold" in body
    # Concentrations are chosen from the library, never typed.
    assert re.search(r'<select[^>]*name="vial_concentration_mg_per_ml"', body)
    assert re.search(r'<select[^>]*name="bag_concentration_mg_per_ml"', body)


def test_serious_events_page(session, nurse, nurse2, users):
    run_to(session, "checklist", nurse, nurse2)
    at = timezone.now() - dt.timedelta(minutes=5)
    services.do_record_adverse_event(
        make_request(nurse),
        session.pk,
        fresh(session).version,
        AdverseEventInput(
            occurred_at=at,
            event_type="anaphylaxis",
            severity="life_threatening",
            action_taken="Adrenaline, 911",
            outcome="transferred",
        ),
    )
    body = logged_in_client(users[A]).get(reverse("infusions:serious_events")).content.decode()
    due = timezone.localtime(at + dt.timedelta(hours=24))
    assert due.strftime("%Y-%m-%d %H:%M") in body
    assert "Allergic reaction" in body
    assert not re.search(r'href="/infusions/\d+/"', body)  # the list, not the chart


def test_bag_concentration_is_not_free_text(session, nurse, nurse2, client_for):
    run_to(session, "checklist", nurse, nurse2)
    count = BagPreparation.objects.count()
    response = client_for(N).post(
        url("infusions:prepare", session),
        {
            "expected_version": fresh(session).version,
            "drug": "ketamine",
            "vial_concentration_mg_per_ml": "10",
            "bag_concentration_mg_per_ml": "1.5",
            "dose_value": "25",
            "dose_unit": "mg/h",
            "pump_rate_entered_ml_per_h": "25",
            "drawn_mg": "100",
            "vial_lot": "KX123",
        },
    )
    assert response.status_code == 200
    assert "bag_concentration_mg_per_ml" in str(response.context["form"].errors)
    assert BagPreparation.objects.count() == count


def test_checklist_shows_the_latest_eligibility_decision(session, physician, client_for):
    from painclinic.web.assessments import models

    url_ = url("infusions:checklist", session)
    assert "No eligibility decision for ketamine" in client_for(N).get(url_).content.decode()
    models.EligibilityDecision.objects.create(
        patient=session.patient,
        drug="ketamine",
        condition="crps_1",
        facts={},
        engine_result={},
        engine_status="eligible_with_cautions",
        physician_decision="accept",
        final_status="eligible_with_cautions",
        decided_by=physician,
        decided_at=timezone.now(),
    )
    body = client_for(N).get(url_).content.decode()
    assert "Latest eligibility decision for ketamine" in body
    assert "Eligible with cautions" in body


def test_after_the_stop_the_chart_shows_the_waste_step(session, nurse, nurse2, client_for):
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    chart = url("infusions:session", s)
    assert "to waste" not in client_for(N).get(chart).content.decode()
    services.do_stop(
        make_request(nurse), s.pk, s.version, StopInput(start + dt.timedelta(minutes=60))
    )
    body = client_for(N).get(chart).content.decode()
    # 100 mg drawn, 25 mg/h for 1 h delivered: computed, never typed.
    assert "Drawn <strong>100 mg</strong>" in body
    assert "delivered <strong>25 mg</strong>" in body
    assert "75 mg</strong> to waste" in body
    assert 'name="witness_password"' in body
    assert reverse("infusions:waste", kwargs={"session_id": s.pk}) in body
    assert "cannot be signed until the remainder is wasted" in body
    # A physician sees the balance but records no waste (only a nurse does).
    physician_body = client_for(P).get(chart).content.decode()
    assert "75 mg</strong> to waste" in physician_body
    assert 'name="witness_password"' not in physician_body
