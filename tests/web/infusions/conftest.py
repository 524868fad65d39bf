"""Infusion-day fixtures: plans and bookings made with the ORM (those apps are in flux)."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from dataclasses import fields
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from painclinic.clinical import plan as clinical_plan
from painclinic.web.accounts.models import Role, User
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import (
    ChecklistInput,
    DischargeInput,
    DoubleCheckInput,
    ObservationInput,
    PrepareBagInput,
    StartInput,
    WasteRemainderInput,
)
from painclinic.web.infusions.models import InfusionSession
from painclinic.web.patients.models import Patient, WeightMeasurement
from painclinic.web.scheduling.models import Booking, Chair
from painclinic.web.treatments.models import PlannedSession, PlanStatus, TreatmentPlan
from tests.conftest import PASSWORD, actor_as, make_user

KETAMINE_PROTOCOL = "ket-crps-outpatient"


def make_request(user: User, path: str = "/infusions/test/") -> Any:
    """A direct service call for ``user`` (the name predates actors)."""
    return actor_as(user, path)


def make_plan(
    patient: Patient,
    prescriber: User,
    *,
    protocol_id: str = KETAMINE_PROTOCOL,
    status: str = PlanStatus.ACTIVE,
    weight_kg: Decimal | None = None,
) -> TreatmentPlan:
    weight = (
        WeightMeasurement.objects.filter(patient=patient).order_by("-measured_on", "-id").first()
    )
    if weight is None or (weight_kg is not None and weight.weight_kg != weight_kg):
        weight = WeightMeasurement.objects.create(
            patient=patient,
            weight_kg=weight_kg or Decimal("80.0"),
            height_cm=Decimal("170"),
            measured_on=timezone.localdate(),
            recorded_by=prescriber,
            recorded_at=timezone.now(),
        )
    info: dict[str, Any] = {"weight_kg": float(weight.weight_kg), "sex": patient.sex_at_birth}
    if weight.height_cm:
        info["height_cm"] = float(weight.height_cm)
    result = clinical_plan(protocol_id, info)
    data = result.to_dict()
    plan = TreatmentPlan.objects.create(
        patient=patient,
        drug=result.drug,
        protocol_id=protocol_id,
        protocol_version=result.protocol_version,
        weight=weight,
        dosing_weight_kg=Decimal(str(round(result.dosing_weight_kg, 1))),
        plan_data=data,
        limit_status=result.status,
        soft_limit_reason="tested" if result.status == "soft_limit" else "",
        status=status,
        prescribed_by=prescriber,
        prescribed_at=timezone.now(),
    )
    for planned in result.sessions:
        PlannedSession.objects.create(
            plan=plan,
            number=planned.number,
            day_offset=int(planned.day),
            duration_min=int(sum(s.duration_min for s in planned.steps)),
            total_mg=Decimal(str(round(planned.total_mg, 2))),
            steps=[
                {
                    "label": s.label,
                    "start_min": s.start_min,
                    "duration_min": s.duration_min,
                    "rate_mg_per_h": s.rate_mg_per_h,
                    "rate_ml_per_h": s.rate_ml_per_h,
                    "concentration_mg_per_ml": s.order["bag"]["concentration_mg_per_ml"],
                    "total_mg": s.total_mg,
                }
                for s in planned.steps
            ],
        )
    return plan


def make_booking(
    plan: TreatmentPlan,
    booked_by: User,
    number: int = 1,
    *,
    starts_at: dt.datetime | None = None,
    chair: str = "Chair 1",
) -> Booking:
    """A booking of the plan's session ``number``: by default today, two hours ago."""
    chair_row, _ = Chair.objects.get_or_create(name=chair)
    starts = starts_at or timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=2)
    return Booking.objects.create(
        patient=plan.patient,
        chair=chair_row,
        plan=plan,
        planned_session=plan.sessions.get(number=number),
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=5),
        booked_by=booked_by,
        booked_at=timezone.now(),
    )


@pytest.fixture(autouse=True)
def clear_of_midnight() -> Any:
    """A chart is opened on its booking's clinic day, and the tests book and chart a few hours
    either side of now: from 21:00 to 03:00 clinic time the test runs at noon of that clinic day
    instead (the clock keeps ticking)."""
    now = timezone.localtime()
    if 3 <= now.hour < 21:
        yield
        return
    with time_machine.travel(now.replace(hour=12), tick=True):
        yield


def charted_at(at: dt.datetime) -> Any:
    """Chart as if the clock showed ``at`` (and kept ticking): for steps that happened earlier
    than the test runs, so that each is charted at its own time, not as a late entry."""
    return time_machine.travel(at, tick=True)


@pytest.fixture
def nurse(users) -> User:
    return users[Role.NURSE]


@pytest.fixture
def nurse2(db) -> User:
    return make_user(Role.NURSE, "rn_sandhu")


@pytest.fixture
def physician(users) -> User:
    return users[Role.PHYSICIAN]


@pytest.fixture
def plan(patient, physician) -> TreatmentPlan:
    return make_plan(patient, physician)


@pytest.fixture
def booking(plan, users) -> Booking:
    return make_booking(plan, users[Role.FRONT_DESK])


@pytest.fixture
def session(booking, nurse) -> InfusionSession:
    return services.do_open_session(make_request(nurse), booking.pk)


def fresh(session: InfusionSession) -> InfusionSession:
    return InfusionSession.objects.select_related(
        "patient", "plan", "plan__weight", "planned_session", "booking"
    ).get(pk=session.pk)


def checklist_data(now: dt.datetime | None = None, **overrides: Any) -> dict[str, Any]:
    now = now or timezone.now()
    data = {
        "systolic_bp_mmhg": 128,
        "diastolic_bp_mmhg": 78,
        "heart_rate_bpm": 72,
        "respiratory_rate_per_min": 14,
        "spo2_percent": 98,
        "weight_kg": Decimal("80.0"),
        "escort_name": "Sam Lovelace",
        "escort_phone": "416-555-0101",
        "last_solids_at": now - dt.timedelta(hours=8),
        "last_clear_fluids_at": now - dt.timedelta(hours=3),
        "pregnancy_test": "negative",
        "no_new_conditions_confirmed": True,
    }
    data.update(overrides)
    return data


def dose_entry(**overrides: Any) -> dict[str, Any]:
    """A correct entry for the fixture plan: 25 mg/h (0.35 mg/kg/h × 80 kg capped) at 1 mg/mL."""
    data = {
        "drug": "ketamine",
        "vial_concentration_mg_per_ml": Decimal("10"),
        "bag_concentration_mg_per_ml": Decimal("1"),
        "dose_value": Decimal("25"),
        "dose_unit": "mg/h",
        "pump_rate_entered_ml_per_h": Decimal("25"),
        "drawn_mg": Decimal("100"),
        "vial_lot": "KX123",
    }
    data.update(overrides)
    return data


def checklist_input(now: dt.datetime | None = None, **overrides: Any) -> ChecklistInput:
    return ChecklistInput(**checklist_data(now, **overrides))


def prep_input(**overrides: Any) -> PrepareBagInput:
    """Nurse 1's entry of the fixture plan's bag (``dose_entry``) as the service's input."""
    return PrepareBagInput(**dose_entry(**overrides))


def check_input(**overrides: Any) -> DoubleCheckInput:
    """Nurse 2's blind entry of the same bag as the service's input."""
    entry = dose_entry(**overrides)
    return DoubleCheckInput(
        **{f.name: entry[f.name] for f in fields(DoubleCheckInput) if f.name in entry}
    )


def run_to(session: InfusionSession, stage: str, nurse: User, nurse2: User, **kw: Any):
    """Advance a session through the workflow up to ``stage`` (checklist, prepared, running).

    To reach ``running`` the infusion starts at ``start_at`` (default: an hour ago), each step
    charted at its own time: checklist, bag and double check ten minutes before the start.
    """
    start_at = kw.get("start_at") or timezone.now() - dt.timedelta(hours=1)
    with charted_at(start_at - dt.timedelta(minutes=10)) if stage == "running" else nullcontext():
        s = fresh(session)
        services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
        if stage == "checklist":
            return fresh(session)
        s = fresh(session)
        services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
        s = fresh(session)
        services.do_double_check(make_request(nurse2), s.pk, s.version, check_input())
        if stage == "prepared":
            return fresh(session)
    with charted_at(start_at):
        s = fresh(session)
        services.do_start(make_request(nurse), s.pk, s.version, StartInput(start_at))
    return fresh(session)


def waste_remainder(session: InfusionSession, nurse: User, witness: User) -> Any:
    """The chart's waste step for a stopped ketamine session: the remainder, witnessed."""
    s = fresh(session)
    return services.do_waste_remainder(
        make_request(nurse),
        s.pk,
        s.version,
        WasteRemainderInput(witness=witness.pk, witness_password=PASSWORD),
    )


@pytest.fixture(autouse=True)
def register_stock(db, users):
    """Vials of lot KX123 (10 mg/mL) in the controlled-drug register."""
    from painclinic.web.drugregister.services import ReceiptInput, do_record_receipt

    do_record_receipt(
        make_request(users[Role.NURSE]),
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


# --- recovery and discharge (issue 11 item 5) -----------------------------------------------

ALDRETE_OK = dict.fromkeys(
    ("activity", "respiration", "circulation", "consciousness", "oxygen_saturation"), 2
)
# The PADSS items the nurse scores (vital signs are computed from the observations): 8 of 8.
PADSS_OK = {"activity": 2, "nausea_vomiting": 2, "pain": 2, "bleeding": 2}
# A recovery round back at the checklist's values (128/78, 72/min): every criterion met.
RECOVERED = {
    "systolic_bp_mmhg": 126,
    "diastolic_bp_mmhg": 78,
    "heart_rate_bpm": 72,
    "respiratory_rate_per_min": 14,
    "spo2_percent": 98,
    "rass": 0,
    "cadss6": 0,
}


def recovery_round(session: InfusionSession, nurse: User, at: dt.datetime, **overrides: Any):
    """A recovery observation (after the stop) charted at ``at``."""
    s = fresh(session)
    values = {**RECOVERED, **overrides}
    return services.do_record_observation(
        make_request(nurse), s.pk, s.version, ObservationInput(observed_at=at, **values)
    )


def discharge_input(at: dt.datetime, **overrides: Any) -> DischargeInput:
    """A discharge with every form criterion met (Aldrete 10, PADSS items 2, escort here)."""
    kwargs: dict[str, Any] = {
        "escort_confirmed": True,
        "escort_name": "Sam",
        "escort_phone": "416-555-0101",
        "padss": PADSS_OK,
    }
    kwargs.update(overrides)
    aldrete = kwargs.pop("aldrete", ALDRETE_OK)
    return DischargeInput.with_aldrete(at, aldrete, **kwargs)


def recover_and_discharge(
    session: InfusionSession, nurse: User, stop_at: dt.datetime, minutes: int = 30
) -> Any:
    """A recovery round ``minutes`` after the stop (default the 30-min minimum), then the
    discharge one minute later."""
    recovery_round(session, nurse, stop_at + dt.timedelta(minutes=minutes))
    s = fresh(session)
    return services.do_discharge(
        make_request(nurse),
        s.pk,
        s.version,
        discharge_input(stop_at + dt.timedelta(minutes=minutes + 1)),
    )
