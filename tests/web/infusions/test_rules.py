"""Every infusion-day rule, fired and not fired, at the service and form level."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.infusions import services
from painclinic.web.infusions.forms import (
    ChecklistForm,
    ObservationForm,
    PrepareForm,
    RateChangeForm,
)
from painclinic.web.infusions.inputs import (
    AcknowledgeInput,
    AdverseEventInput,
    AmendmentInput,
    ChecklistInput,
    DischargeInput,
    NoteInput,
    ObservationInput,
    PauseInput,
    PrepareBagInput,
    RateChangeInput,
    ResumeInput,
    StartInput,
    StopInput,
)
from painclinic.web.infusions.models import (
    AdverseEvent,
    Alert,
    BagPreparation,
    DoubleCheck,
    NoteAmendment,
    Observation,
    PreInfusionChecklist,
    RateSegment,
    SessionNote,
    SessionStatus,
)
from painclinic.web.infusions.rules import Refused
from painclinic.web.patients.models import WeightMeasurement
from painclinic.web.scheduling.models import BookingStatus
from tests.conftest import make_patient
from tests.web.infusions.conftest import (
    charted_at,
    check_input,
    checklist_data,
    checklist_input,
    discharge_input,
    dose_entry,
    fresh,
    make_booking,
    make_plan,
    make_request,
    prep_input,
    recovery_round,
    run_to,
    waste_remainder,
)

pytestmark = pytest.mark.django_db

ALDRETE_OK = dict.fromkeys(
    ("activity", "respiration", "circulation", "consciousness", "oxygen_saturation"), 2
)


def local(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


def counts() -> tuple[int, ...]:
    """Rows saved, and audit events of changes made (a refusal's own event is not a change)."""
    return (
        PreInfusionChecklist.objects.count(),
        BagPreparation.objects.count(),
        DoubleCheck.objects.count(),
        RateSegment.objects.count(),
        Observation.objects.count(),
        Alert.objects.count(),
        AuditEvent.objects.filter(outcome="success").count(),
    )


def observation(at: dt.datetime, **overrides) -> dict:
    data = {
        "observed_at": at,
        "systolic_bp_mmhg": 128,
        "diastolic_bp_mmhg": 78,
        "heart_rate_bpm": 74,
        "respiratory_rate_per_min": 14,
        "spo2_percent": 97,
        "rass": 0,
        "symptoms": [],
    }
    data.update(overrides)
    return data


# --- open -----------------------------------------------------------------------------------


def test_open_needs_an_active_plan(patient, physician, nurse, users):
    for status, words in (
        ("awaiting_cosign", "co-signature"),
        ("cancelled", "cancelled"),
        ("completed", "completed"),
    ):
        booking = make_booking(make_plan(patient, physician, status=status), users[Role.FRONT_DESK])
        with pytest.raises(Refused, match=words):
            services.do_open_session(make_request(nurse), booking.pk)
    active = make_booking(make_plan(patient, physician), users[Role.FRONT_DESK])
    session = services.do_open_session(make_request(nurse), active.pk)
    assert session.status == SessionStatus.SCHEDULED
    assert session.dosing_weight_kg == Decimal("80.0")
    # Opening twice returns the same session.
    assert services.do_open_session(make_request(nurse), active.pk) == session


def test_open_refuses_a_cancelled_booking(booking, nurse):
    booking.status = BookingStatus.CANCELLED
    booking.save()
    with pytest.raises(Refused, match="cancelled"):
        services.do_open_session(make_request(nurse), booking.pk)


# --- checklist ------------------------------------------------------------------------------


def checklist_form(session, **overrides) -> ChecklistForm:
    data = checklist_data(**overrides)
    post = {k: (local(v) if isinstance(v, dt.datetime) else v) for k, v in data.items()}
    post["expected_version"] = session.version
    post["no_new_conditions_confirmed"] = "on" if data["no_new_conditions_confirmed"] else ""
    return ChecklistForm(post, session=fresh(session))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"systolic_bp_mmhg": 0}, "systolic_bp_mmhg"),
        ({"diastolic_bp_mmhg": 0}, "diastolic_bp_mmhg"),
        ({"spo2_percent": 0}, "spo2_percent"),
        ({"heart_rate_bpm": 400}, "heart_rate_bpm"),
        ({"diastolic_bp_mmhg": 140, "systolic_bp_mmhg": 120}, "diastolic_bp_mmhg"),
        ({"weight_kg": Decimal("89.0")}, "weight_kg"),  # +11% over the plan's 80 kg
        ({"weight_kg": Decimal("176.4")}, "weight_kg"),  # 80 kg typed in pounds
        ({"escort_name": " "}, "escort_name"),
        ({"escort_phone": ""}, "escort_phone"),
        ({"no_new_conditions_confirmed": False}, "no_new_conditions_confirmed"),
        ({"pregnancy_test": "positive"}, "pregnancy_test"),
    ],
)
def test_checklist_refuses_on_the_field_and_saves_nothing(session, overrides, field):
    before = counts()
    form = checklist_form(session, **overrides)
    assert not form.is_valid()
    assert field in form.errors, form.errors
    assert counts() == before
    with pytest.raises(Refused):
        services.do_complete_checklist(
            make_request(session.opened_by),
            session.pk,
            session.version,
            ChecklistInput(**{**checklist_data(), **overrides}),
        )
    assert counts() == before
    assert fresh(session).status == SessionStatus.SCHEDULED


def test_checklist_weight_within_ten_percent_passes_and_is_recorded(session, nurse):
    form = checklist_form(session, weight_kg=Decimal("87.5"))  # +9.4%
    assert form.is_valid(), form.errors
    weights = WeightMeasurement.objects.filter(patient=session.patient).count()
    services.do_complete_checklist(make_request(nurse), session.pk, form.version, form.to_input())
    assert fresh(session).status == SessionStatus.CHECKLIST_DONE
    assert WeightMeasurement.objects.filter(patient=session.patient).count() == weights + 1


def test_weight_message_says_the_physician_must_replan(session):
    form = checklist_form(session, weight_kg=Decimal("70.0"))
    assert not form.is_valid()
    assert "physician must re-plan" in form.errors["weight_kg"][0]


def test_fasting_is_clinic_policy(session, settings):
    now = timezone.now()
    form = checklist_form(session, last_solids_at=now - dt.timedelta(hours=5))
    assert not form.is_valid() and "last_solids_at" in form.errors
    assert "clinic policy needs 6 h" in form.errors["last_solids_at"][0]
    form = checklist_form(session, last_clear_fluids_at=now - dt.timedelta(hours=1))
    assert not form.is_valid() and "last_clear_fluids_at" in form.errors
    settings.INFUSION_FASTING_HOURS = (4, 0.5)
    form = checklist_form(
        session,
        last_solids_at=now - dt.timedelta(hours=5),
        last_clear_fluids_at=now - dt.timedelta(hours=1),
    )
    assert form.is_valid(), form.errors


def test_fasting_time_in_the_future_is_refused(session):
    form = checklist_form(session, last_solids_at=timezone.now() + dt.timedelta(hours=2))
    assert not form.is_valid()
    assert "future" in form.errors["last_solids_at"][0]


def _session_for(patient, physician, nurse, users):
    plan = make_plan(patient, physician)
    return services.do_open_session(
        make_request(nurse), make_booking(plan, users[Role.FRONT_DESK]).pk
    )


def test_pregnancy_test_required_for_a_woman_of_childbearing_age(physician, nurse, users):
    young = make_patient("Mia", "Young", date_of_birth=dt.date(1996, 3, 1))
    session = _session_for(young, physician, nurse, users)
    form = checklist_form(session, pregnancy_test="not_applicable")
    assert not form.is_valid()
    assert "pregnancy test result is required" in form.errors["pregnancy_test"][0]
    assert checklist_form(session, pregnancy_test="negative").is_valid()


def test_pregnancy_test_not_required_for_men_or_outside_the_age_range(
    physician, nurse, users, patient
):
    man = make_patient("Leo", "Man", date_of_birth=dt.date(1996, 3, 1), sex_at_birth="male")
    session = _session_for(man, physician, nurse, users)
    assert checklist_form(session, pregnancy_test="not_applicable").is_valid()
    older = _session_for(patient, physician, nurse, users)  # born 1970: 56 years old
    assert checklist_form(older, pregnancy_test="not_applicable").is_valid()


def test_contraindication_rescreen_on_todays_vitals(session):
    form = checklist_form(session, systolic_bp_mmhg=200, diastolic_bp_mmhg=100)
    assert not form.is_valid()
    message = form.non_field_errors()[0]
    assert "Contraindication today" in message and "systolic 200 > 180 mmHg" in message
    form = checklist_form(session, systolic_bp_mmhg=175, diastolic_bp_mmhg=95)
    assert form.is_valid(), form.errors
    assert form.rescreen["absolute"] == []


def test_checklist_must_pass_before_bag_preparation(session, nurse):
    with pytest.raises(Refused, match="scheduled"):
        services.do_prepare_bag(make_request(nurse), session.pk, session.version, prep_input())
    assert BagPreparation.objects.count() == 0


# --- bag preparation and double check -------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"drug": "lidocaine"}, "drug"),
        ({"bag_concentration_mg_per_ml": Decimal("2")}, "bag_concentration_mg_per_ml"),
        ({"dose_value": Decimal("0.35"), "dose_unit": "mg/kg/h"}, "dose_value"),  # 28 mg/h
        # 250 mg/h is beyond a hard limit: the service refuses it, audited with its values
        # (test_service_contract.py).
        ({"pump_rate_entered_ml_per_h": Decimal("2.5")}, "pump_rate_entered_ml_per_h"),
    ],
)
def test_preparation_must_match_the_plan(session, nurse, nurse2, overrides, field):
    s = run_to(session, "checklist", nurse, nurse2)
    entry = dose_entry(**overrides)
    post = {k: str(v) for k, v in entry.items()}
    post["expected_version"] = s.version
    form = PrepareForm(post, session=s)
    assert not form.is_valid()
    assert field in form.errors, form.errors
    before = counts()
    with pytest.raises(Refused):
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, PrepareBagInput(**entry))
    assert counts() == before


def test_preparation_in_mg_per_kg_per_h_that_matches_is_accepted(session, nurse, nurse2):
    s = run_to(session, "checklist", nurse, nurse2)
    entry = dose_entry(dose_value=Decimal("0.3125"), dose_unit="mg/kg/h")
    prep = services.do_prepare_bag(make_request(nurse), s.pk, s.version, PrepareBagInput(**entry))
    assert prep.rate_mg_per_h == Decimal("25")
    assert prep.rate_ml_per_h == Decimal("25")


def test_same_user_double_check_is_refused(session, nurse, nurse2):
    s = run_to(session, "checklist", nurse, nurse2)
    services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
    s = fresh(s)
    with pytest.raises(Refused, match="different nurse"):
        services.do_double_check(make_request(nurse), s.pk, s.version, check_input())
    assert DoubleCheck.objects.count() == 0
    assert fresh(s).status == SessionStatus.CHECKLIST_DONE


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        ({"drug": "lidocaine"}, "Drug"),
        ({"bag_concentration_mg_per_ml": Decimal("2")}, "Bag concentration"),
        ({"dose_value": Decimal("2.5")}, "Dose"),
        ({"pump_rate_entered_ml_per_h": Decimal("250")}, "Pump rate"),
    ],
)
def test_mismatch_blocks_the_start(session, nurse, nurse2, overrides, label):
    s = run_to(session, "checklist", nurse, nurse2)
    services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
    s = fresh(s)
    check = services.do_double_check(
        make_request(nurse2), s.pk, s.version, check_input(**overrides)
    )
    assert not check.matches
    assert [m["label"] for m in check.mismatches] == [label]
    s = fresh(s)
    assert s.status == SessionStatus.CHECKLIST_DONE
    with pytest.raises(Refused, match="Cannot start"):
        services.do_start(make_request(nurse), s.pk, s.version, StartInput(timezone.now()))
    assert RateSegment.objects.count() == 0
    # A new preparation and a matching double check allow the start.
    services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
    s = fresh(s)
    assert services.do_double_check(make_request(nurse2), s.pk, s.version, check_input()).matches
    s = fresh(s)
    assert s.status == SessionStatus.PREPARED
    segment = services.do_start(make_request(nurse), s.pk, s.version, StartInput(timezone.now()))
    assert segment.rate_ml_per_h == Decimal("25")


def test_the_same_rate_written_per_kg_matches(session, nurse, nurse2):
    s = run_to(session, "checklist", nurse, nurse2)
    services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
    s = fresh(s)
    # 0.3125 mg/kg/h x 80 kg = 25 mg/h
    assert services.do_double_check(
        make_request(nurse2),
        s.pk,
        s.version,
        check_input(dose_value=Decimal("0.3125"), dose_unit="mg/kg/h"),
    ).matches


def test_matching_double_check_allows_the_start(session, nurse, nurse2):
    s = run_to(session, "prepared", nurse, nurse2)
    assert s.status == SessionStatus.PREPARED
    segment = services.do_start(make_request(nurse), s.pk, s.version, StartInput(timezone.now()))
    assert (segment.rate_mg_per_h, segment.rate_ml_per_h) == (Decimal("25"), Decimal("25"))
    assert fresh(s).status == SessionStatus.RUNNING


def test_the_draw_is_recorded_in_the_drug_register(session, nurse, nurse2):
    from painclinic.web.drugregister.models import RegisterEntry

    run_to(session, "prepared", nurse, nurse2)
    prep = BagPreparation.objects.get(session=session)
    assert prep.register_draw_recorded
    draw = RegisterEntry.objects.get(session=session, kind="draw")
    assert (draw.amount_mg, draw.lot) == (Decimal("100"), "KX123")


def test_a_draw_the_register_refuses_names_the_field(session, nurse, nurse2):
    s = run_to(session, "checklist", nurse, nurse2)
    with pytest.raises(Refused) as info:
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input(vial_lot="NOPE"))
    assert info.value.field == "vial_lot"
    assert BagPreparation.objects.count() == 0


# --- times and rates ------------------------------------------------------------------------


def test_start_time_in_the_future_is_refused(session, nurse, nurse2):
    s = run_to(session, "prepared", nurse, nurse2)
    with pytest.raises(Refused, match="future") as info:
        services.do_start(
            make_request(nurse),
            s.pk,
            s.version,
            StartInput(timezone.now() + dt.timedelta(minutes=10)),
        )
    assert info.value.field == "at"
    assert RateSegment.objects.count() == 0


def test_event_before_the_previous_one_is_refused(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    before = counts()
    with pytest.raises(Refused, match="before the previous"):
        services.do_pause(
            make_request(nurse), s.pk, s.version, PauseInput(start - dt.timedelta(minutes=1))
        )
    assert counts() == before
    form = RateChangeForm(
        {
            "expected_version": s.version,
            "at": local(start - dt.timedelta(minutes=5)),
            "dose_value": "20",
            "dose_unit": "mg/h",
        },
        session=s,
        not_before=services.last_event_at(s),
    )
    assert not form.is_valid() and "before the previous" in form.errors["at"][0]


def test_rate_change_hard_limit_refused_soft_limit_needs_a_reason(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    now = timezone.now()
    with pytest.raises(Refused, match="hard limit") as info:
        services.do_change_rate(
            make_request(nurse), s.pk, s.version, RateChangeInput(now, Decimal("50"), "mg/h")
        )
    assert info.value.field == "dose_value"
    with pytest.raises(Refused, match="soft limit") as info:
        services.do_change_rate(
            make_request(nurse), s.pk, s.version, RateChangeInput(now, Decimal("30"), "mg/h")
        )
    assert info.value.field == "limit_reason"
    assert RateSegment.objects.count() == 1
    segment = services.do_change_rate(
        make_request(nurse),
        s.pk,
        s.version,
        RateChangeInput(now, Decimal("30"), "mg/h", "physician order"),
    )
    assert segment.limit_status == "soft_limit"
    assert segment.rate_ml_per_h == Decimal("30")
    previous = RateSegment.objects.get(session=s, start_reason="start")
    assert previous.ended_at == now and previous.end_reason == "rate_change"


def test_rate_change_form_computes_the_pump_rate_from_a_weight_based_dose(
    session, nurse, nurse2, client_for
):
    s = run_to(session, "running", nurse, nurse2)
    form = RateChangeForm(
        {
            "expected_version": s.version,
            "at": local(timezone.now()),
            "dose_value": "0.25",
            "dose_unit": "mg/kg/h",
        },
        session=s,
        not_before=services.last_event_at(s),
    )
    assert form.is_valid(), form.errors
    assert form.rate_result.rate_mg_per_h == Decimal("20")
    assert form.rate_result.rate_ml_per_h == Decimal("20")
    # 1 mg/kg/h is beyond a hard limit: the form leaves the limits to the service, whose
    # refusal (audited with its values) the page shows on the dose.
    post = {
        "expected_version": s.version,
        "at": local(timezone.now()),
        "dose_value": "1",
        "dose_unit": "mg/kg/h",
    }
    form = RateChangeForm(post, session=s, not_before=services.last_event_at(s))
    assert form.is_valid(), form.errors
    response = client_for(Role.NURSE).post(f"/infusions/{s.pk}/rate/", post)
    assert response.status_code == 200
    assert "hard limit" in response.context["form"].errors["dose_value"][0]
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == "denied" and event.detail["service"] == "do_change_rate"
    assert event.detail["rate_mg_per_h"] == "80.0000" and event.detail["drug"] == "ketamine"
    assert RateSegment.objects.filter(session=s).count() == 1


def test_pause_and_resume(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    services.do_pause(
        make_request(nurse), s.pk, s.version, PauseInput(start + dt.timedelta(minutes=20))
    )
    s = fresh(s)
    assert s.status == SessionStatus.PAUSED
    with pytest.raises(Refused):
        services.do_change_rate(
            make_request(nurse),
            s.pk,
            s.version,
            RateChangeInput(timezone.now(), Decimal("10"), "mg/h"),
        )
    services.do_resume(
        make_request(nurse), s.pk, s.version, ResumeInput(start + dt.timedelta(minutes=30))
    )
    s = fresh(s)
    assert s.status == SessionStatus.RUNNING
    segments = list(s.segments.order_by("started_at"))
    assert [x.start_reason for x in segments] == ["start", "resume"]
    assert segments[1].rate_mg_per_h == Decimal("25")


# --- observations and alerts ----------------------------------------------------------------


def test_observation_in_the_future_is_refused(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    before = counts()
    future = timezone.now() + dt.timedelta(minutes=10)
    with pytest.raises(Refused, match="future") as info:
        services.do_record_observation(
            make_request(nurse), s.pk, s.version, ObservationInput(**observation(future))
        )
    assert info.value.field == "observed_at"
    form = ObservationForm(
        {**observation(future), "observed_at": local(future), "expected_version": s.version},
        session=s,
        not_before=s.segments.first().started_at,
    )
    assert not form.is_valid() and "future" in form.errors["observed_at"][0]
    assert counts() == before


def test_observation_before_the_start_is_refused(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    early = s.segments.first().started_at - dt.timedelta(minutes=10)
    with pytest.raises(Refused, match="infusion start"):
        services.do_record_observation(
            make_request(nurse), s.pk, s.version, ObservationInput(**observation(early))
        )


def test_blood_pressure_of_zero_is_refused_on_the_field(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    at = timezone.now() - dt.timedelta(minutes=5)
    before = counts()
    data = observation(at, systolic_bp_mmhg=0)
    form = ObservationForm(
        {**data, "observed_at": local(at), "expected_version": s.version, "rass": "0"},
        session=s,
    )
    assert not form.is_valid() and "systolic_bp_mmhg" in form.errors
    with pytest.raises(Refused) as info:
        services.do_record_observation(
            make_request(nurse), s.pk, s.version, ObservationInput(**data)
        )
    assert info.value.field == "systolic_bp_mmhg"
    assert counts() == before


def test_sedation_score_is_required(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    at = timezone.now() - dt.timedelta(minutes=5)
    data = observation(at)
    post = {**data, "observed_at": local(at), "expected_version": s.version, "rass": ""}
    form = ObservationForm(post, session=s)
    assert not form.is_valid() and "rass" in form.errors


def test_a_normal_observation_raises_no_alert(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    at = timezone.now() - dt.timedelta(minutes=5)
    obs = services.do_record_observation(
        make_request(nurse), s.pk, s.version, ObservationInput(**observation(at))
    )
    assert obs.action == "continue"
    assert obs.rate_mg_per_h == Decimal("25")
    assert Alert.objects.count() == 0


def test_last_prodrome_raises_an_alert_on_lidocaine(patient, physician, nurse, nurse2, users):
    plan = make_plan(patient, physician, protocol_id="lid-5mgkg-60min")
    s = services.do_open_session(make_request(nurse), make_booking(plan, users[Role.FRONT_DESK]).pk)
    start = timezone.now() - dt.timedelta(minutes=20)
    earlier = charted_at(start - dt.timedelta(minutes=5))
    earlier.start()  # checklist, bag and double check before the start
    services.do_complete_checklist(make_request(nurse), s.pk, 1, checklist_input())
    step = fresh(s).planned_session.steps[0]
    entry = {
        "drug": "lidocaine",
        "bag_concentration_mg_per_ml": Decimal("4"),
        "dose_value": Decimal(str(step["rate_mg_per_h"])),
        "pump_rate_entered_ml_per_h": Decimal(str(step["rate_ml_per_h"])),
    }
    s = fresh(s)
    prep = services.do_prepare_bag(
        make_request(nurse),
        s.pk,
        s.version,
        prep_input(vial_concentration_mg_per_ml=Decimal("20"), vial_lot="LID-1", **entry),
    )
    assert not prep.register_draw_recorded  # lidocaine is not a controlled drug
    s = fresh(s)
    services.do_double_check(make_request(nurse2), s.pk, s.version, check_input(**entry))
    earlier.stop()
    s = fresh(s)
    services.do_start(make_request(nurse), s.pk, s.version, StartInput(start))
    s = fresh(s)
    obs = services.do_record_observation(
        make_request(nurse),
        s.pk,
        s.version,
        ObservationInput(
            **observation(
                start + dt.timedelta(minutes=15), symptoms=["perioral_numbness", "tinnitus"]
            )
        ),
    )
    assert obs.action != "continue"
    assert Alert.objects.get(observation=obs).reasons


def _alerting(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    services.do_record_observation(
        make_request(nurse),
        s.pk,
        s.version,
        ObservationInput(
            **observation(
                start + dt.timedelta(minutes=15), systolic_bp_mmhg=190, diastolic_bp_mmhg=100
            )
        ),
    )
    return fresh(s), Alert.objects.get(session=s), start


def test_hypertension_raises_an_alert(session, nurse, nurse2):
    _s, alert, _ = _alerting(session, nurse, nurse2)
    assert alert.action == "pause"
    assert alert.reasons[0]["rule_id"] == "MON-VS-001"
    assert alert.acknowledged_at is None


def test_unacknowledged_alert_blocks_stop_discharge_and_signing(session, nurse, nurse2, physician):
    s, alert, start = _alerting(session, nurse, nurse2)
    with pytest.raises(Refused, match="not acknowledged"):
        services.do_stop(
            make_request(nurse), s.pk, s.version, StopInput(start + dt.timedelta(minutes=30))
        )
    assert fresh(s).status == SessionStatus.RUNNING
    services.do_acknowledge_alert(
        make_request(nurse),
        s.pk,
        s.version,
        alert.pk,
        AcknowledgeInput(response="stop", action_taken="Stopped, physician informed", at=None),
    )
    s = fresh(s)
    assert s.status == SessionStatus.STOPPED
    # An alert after the stop (recovery observations) blocks discharge and signing.
    services.do_record_observation(
        make_request(nurse),
        s.pk,
        s.version,
        ObservationInput(
            **observation(timezone.now() - dt.timedelta(seconds=30), respiratory_rate_per_min=8)
        ),
    )
    s = fresh(s)
    late = Alert.objects.get(session=s, acknowledged_at__isnull=True)
    discharge = DischargeInput.with_aldrete(
        timezone.now(), ALDRETE_OK, escort_confirmed=True, escort_name="Sam"
    )
    with pytest.raises(Refused, match="not acknowledged"):
        services.do_discharge(make_request(nurse), s.pk, s.version, discharge)
    with pytest.raises(Refused, match="not acknowledged"):
        services.do_save_note(
            make_request(physician), s.pk, s.version, NoteInput("note", sign=True)
        )
    assert not SessionNote.objects.exists()
    services.do_acknowledge_alert(
        make_request(physician),
        s.pk,
        s.version,
        late.pk,
        AcknowledgeInput(response="no_change", action_taken="RR 14 on recheck", at=None),
    )
    waste_remainder(s, nurse, nurse2)
    s = fresh(s)
    services.do_save_note(make_request(physician), s.pk, s.version, NoteInput("note", sign=True))
    assert fresh(s).status == SessionStatus.SIGNED


def test_acknowledge_with_a_rate_reduction_is_one_step(session, nurse, nurse2, physician):
    s, alert, start = _alerting(session, nurse, nurse2)
    at = start + dt.timedelta(minutes=17)
    services.do_acknowledge_alert(
        make_request(physician),
        s.pk,
        s.version,
        alert.pk,
        AcknowledgeInput(
            response="reduce_rate",
            action_taken="BP rechecked 188/98",
            dose_value=Decimal("12.5"),
            dose_unit="mg/h",
            at=at,
        ),
    )
    alert.refresh_from_db()
    assert alert.acknowledged_by == physician
    assert alert.action_taken == "BP rechecked 188/98 (rate reduced to 12.5 mg/h)"
    assert alert.rate_segment.rate_mg_per_h == Decimal("12.5")
    assert alert.rate_segment.started_at == at
    s = fresh(s)
    services.do_stop(
        make_request(nurse), s.pk, s.version, StopInput(start + dt.timedelta(minutes=30))
    )
    assert fresh(s).status == SessionStatus.STOPPED


def test_a_reduction_that_is_not_lower_changes_nothing(session, nurse, nurse2):
    s, alert, start = _alerting(session, nurse, nurse2)
    before = counts()
    with pytest.raises(Refused, match="not lower"):
        services.do_acknowledge_alert(
            make_request(nurse),
            s.pk,
            s.version,
            alert.pk,
            AcknowledgeInput(
                response="reduce_rate",
                action_taken="x",
                dose_value=Decimal("25"),
                dose_unit="mg/h",
                at=start + dt.timedelta(minutes=17),
            ),
        )
    assert counts() == before
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_acknowledge_with_pause(session, nurse, nurse2):
    s, alert, _start = _alerting(session, nurse, nurse2)
    services.do_acknowledge_alert(
        make_request(nurse),
        s.pk,
        s.version,
        alert.pk,
        AcknowledgeInput(
            response="pause", action_taken="Paused, physician called", at=timezone.now()
        ),
    )
    assert fresh(s).status == SessionStatus.PAUSED


# --- adverse events -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "outcome", "ticked", "serious"),
    [
        ("mild", "resolved", False, False),
        ("moderate", "resolved", True, True),
        ("severe", "resolved", False, True),
        ("mild", "transferred", False, True),
    ],
)
def test_serious_adverse_events_get_a_24_hour_deadline(
    session, nurse, nurse2, severity, outcome, ticked, serious
):
    s = run_to(session, "running", nurse, nurse2)
    at = timezone.now() - dt.timedelta(minutes=3)
    event = services.do_record_adverse_event(
        make_request(nurse),
        s.pk,
        s.version,
        AdverseEventInput(
            occurred_at=at,
            event_type="hypertension",
            severity=severity,
            action_taken="rate reduced",
            outcome=outcome,
            serious=ticked,
        ),
    )
    assert event.serious is serious
    assert event.report_due_at == (at + dt.timedelta(hours=24) if serious else None)


def test_adverse_event_in_the_future_is_refused(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    with pytest.raises(Refused, match="future"):
        services.do_record_adverse_event(
            make_request(nurse),
            s.pk,
            s.version,
            AdverseEventInput(
                occurred_at=timezone.now() + dt.timedelta(hours=1),
                event_type="other",
                severity="mild",
                action_taken="x",
                outcome="resolved",
            ),
        )
    assert AdverseEvent.objects.count() == 0


# --- discharge and note ---------------------------------------------------------------------


def _stopped(session, nurse, nurse2):
    """Stopped 50 min after a start 2 h ago; a recovery round at the 30-min minimum; the
    discharge time one minute later."""
    s = run_to(session, "running", nurse, nurse2, start_at=timezone.now() - dt.timedelta(hours=2))
    start = s.segments.first().started_at
    stop_at = start + dt.timedelta(minutes=50)
    services.do_stop(make_request(nurse), s.pk, s.version, StopInput(stop_at))
    recovery_round(s, nurse, stop_at + dt.timedelta(minutes=30))
    return fresh(s), stop_at + dt.timedelta(minutes=31)


def test_discharge_refused_below_the_aldrete_threshold(session, nurse, nurse2):
    s, at = _stopped(session, nurse, nurse2)
    low = {**ALDRETE_OK, "consciousness": 1, "activity": 1}  # 8/10 < 9
    with pytest.raises(Refused, match=r"Modified Aldrete 9 or more of 10 \(now 8\)") as info:
        services.do_discharge(
            make_request(nurse), s.pk, s.version, discharge_input(at, aldrete=low)
        )
    assert info.value.field == "activity"
    assert fresh(s).status == SessionStatus.STOPPED


def test_discharge_refused_without_an_escort(session, nurse, nurse2):
    s, at = _stopped(session, nurse, nurse2)
    for data in (
        {"escort_confirmed": False, "escort_name": "Sam"},
        {"escort_confirmed": True, "escort_name": ""},
    ):
        with pytest.raises(Refused, match="escort") as info:
            services.do_discharge(make_request(nurse), s.pk, s.version, discharge_input(at, **data))
        assert info.value.field == "escort_confirmed"
    assert fresh(s).status == SessionStatus.STOPPED


def test_discharge_at_the_threshold_with_an_escort(session, nurse, nurse2):
    s, at = _stopped(session, nurse, nurse2)
    nine = {**ALDRETE_OK, "activity": 1}
    discharge = services.do_discharge(
        make_request(nurse), s.pk, s.version, discharge_input(at, aldrete=nine)
    )
    assert discharge.aldrete_score == 9
    assert fresh(s).status == SessionStatus.DISCHARGED


def test_signed_note_is_locked_but_can_be_amended(session, nurse, nurse2, physician, client_for):
    s, _ = _stopped(session, nurse, nurse2)
    services.do_save_note(make_request(nurse), s.pk, s.version, NoteInput("Draft one", sign=False))
    waste_remainder(s, nurse, nurse2)
    s = fresh(s)
    services.do_save_note(
        make_request(physician), s.pk, s.version, NoteInput("Final text", sign=True)
    )
    s = fresh(s)
    note = SessionNote.objects.get(session=s)
    assert note.signed_by == physician and s.status == SessionStatus.SIGNED
    with pytest.raises(services.NoteLocked):
        services.do_save_note(
            make_request(nurse), s.pk, s.version, NoteInput("Changed", sign=False)
        )
    response = client_for(Role.NURSE).post(
        f"/infusions/{s.pk}/note/", {"expected_version": s.version, "text": "Sneaky edit"}
    )
    assert response.status_code == 409
    note.refresh_from_db()
    assert note.text == "Final text"
    amendment = services.do_amend_note(
        make_request(physician), s.pk, fresh(s).version, AmendmentInput("Dose was 25 mg/h", "typo")
    )
    assert NoteAmendment.objects.get() == amendment
    note.refresh_from_db()
    assert note.text == "Final text"
    body = client_for(Role.PHYSICIAN).get(f"/infusions/{s.pk}/note/").content.decode()
    assert "Final text" in body and "Dose was 25 mg/h" in body and "Amendment 1" in body
    event = AuditEvent.objects.order_by("-sequence").filter(action="amend").first()
    assert event.detail["reason"] == "typo"


def test_a_draft_cannot_be_amended(session, nurse, nurse2, physician):
    s, _ = _stopped(session, nurse, nurse2)
    services.do_save_note(make_request(nurse), s.pk, s.version, NoteInput("Draft", sign=False))
    with pytest.raises(Refused, match="Only a signed note"):
        services.do_amend_note(
            make_request(physician), s.pk, fresh(s).version, AmendmentInput("x", "y")
        )


# --- integrity ------------------------------------------------------------------------------


def test_stale_version_raises_a_conflict_and_saves_nothing(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    stale = s.version
    at = timezone.now() - dt.timedelta(minutes=2)
    services.do_record_observation(
        make_request(nurse2), s.pk, stale, ObservationInput(**observation(at))
    )
    before = Observation.objects.count()
    with pytest.raises(services.SessionConflict) as info:
        services.do_record_observation(
            make_request(nurse), s.pk, stale, ObservationInput(**observation(at))
        )
    assert [e.kind for e in info.value.changes] == ["observation"]
    assert Observation.objects.count() == before


def test_a_state_change_is_atomic_with_its_audit_event(session, nurse, nurse2, monkeypatch):
    s = run_to(session, "prepared", nurse, nurse2)

    def broken(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services, "audit", broken)
    with pytest.raises(RuntimeError):
        services.do_start(make_request(nurse), s.pk, s.version, StartInput(timezone.now()))
    assert RateSegment.objects.count() == 0
    assert fresh(s).version == s.version and fresh(s).status == SessionStatus.PREPARED
