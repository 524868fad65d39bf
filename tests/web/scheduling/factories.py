"""Plans, chairs, bookings and infusion sessions for the scheduling and drug-register tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from painclinic.web.accounts.models import User
from painclinic.web.infusions.models import InfusionSession
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.patients.models import Patient, WeightMeasurement
from painclinic.web.scheduling.models import Booking, Chair, OpeningHours
from painclinic.web.treatments.models import (
    PlannedSession,
    PlanStatus,
    SignatureMethod,
    TreatmentConsent,
    TreatmentConsentDecision,
    TreatmentPlan,
)


def make_chair(name: str = "Chair 1", *, days=range(5), opens="08:00", closes="17:00") -> Chair:
    chair = Chair.objects.create(name=name, location="Infusion room")
    for weekday in days:
        OpeningHours.objects.create(
            chair=chair,
            weekday=weekday,
            opens=dt.time.fromisoformat(opens),
            closes=dt.time.fromisoformat(closes),
        )
    return chair


def make_plan(
    patient: Patient,
    physician: User,
    *,
    sessions: int = 5,
    day_offsets: list[int] | None = None,
    duration_min: int = 240,
    status: str = PlanStatus.ACTIVE,
    drug: str = "ketamine",
    consent_sessions: int | None = None,
    consent: bool = True,
) -> TreatmentPlan:
    """An active plan, by default with a signed treatment consent covering all its sessions
    (``consent_sessions`` for fewer or more, ``consent=False`` for none): only the sessions
    the consent covers can be booked."""
    weight = WeightMeasurement.objects.filter(patient=patient).first()
    if weight is None:
        weight = WeightMeasurement.objects.create(
            patient=patient,
            weight_kg=Decimal("70.0"),
            measured_on=timezone.localdate(),
            recorded_by=physician,
            recorded_at=timezone.now(),
        )
    plan = TreatmentPlan.objects.create(
        patient=patient,
        drug=drug,
        protocol_id="crps-outpatient-5day",
        protocol_version="1",
        weight=weight,
        dosing_weight_kg=weight.weight_kg,
        plan_data={},
        limit_status="within",
        status=status,
        prescribed_by=physician,
        prescribed_at=timezone.now(),
    )
    offsets = day_offsets if day_offsets is not None else list(range(sessions))
    if consent:
        make_consent(
            patient,
            physician,
            len(offsets) if consent_sessions is None else consent_sessions,
            drug=drug,
            protocol_id=plan.protocol_id,
        )
    rate = 20 if drug == "ketamine" else 120
    for number, offset in enumerate(offsets, start=1):
        PlannedSession.objects.create(
            plan=plan,
            number=number,
            day_offset=offset,
            duration_min=duration_min,
            total_mg=Decimal(rate * duration_min) / 60,
            steps=[
                {
                    "label": "maintenance",
                    "start_min": 0,
                    "duration_min": duration_min,
                    "rate_mg_per_h": rate,
                    "rate_ml_per_h": rate,
                    "concentration_mg_per_ml": 1,
                    "total_mg": rate * duration_min / 60,
                }
            ],
        )
    return plan


def make_consent(
    patient: Patient,
    by: User,
    sessions: int,
    *,
    drug: str = "ketamine",
    protocol_id: str = "crps-outpatient-5day",
    estimate_total_cents: int = 100_000,
) -> TreatmentConsent:
    """A granted treatment consent for ``sessions`` sessions (a row, as the consent service
    leaves it; the scheduling tests need its drug, protocol and session count)."""
    now = timezone.now()
    return TreatmentConsent.objects.create(
        patient=patient,
        decision=TreatmentConsentDecision.GRANTED,
        drug=drug,
        protocol_id=protocol_id,
        protocol_title="CRPS outpatient series",
        protocol_library_version="test",
        sessions=sessions,
        consent_text_version="test",
        off_label_statement="Off-label use explained.",
        coverage_statement="Not covered by the provincial plan.",
        estimate={"total_cents": estimate_total_cents, "sessions": sessions},
        estimate_total_cents=estimate_total_cents,
        patient_signed_name=patient.full_name,
        signature_method=SignatureMethod.TABLET,
        signed_at=now,
        obtained_by=by,
        recorded_at=now,
    )


def make_booking(
    patient: Patient,
    chair: Chair,
    user: User,
    day: dt.date,
    start: str = "09:00",
    minutes: int = 240,
    plan: TreatmentPlan | None = None,
    number: int = 1,
) -> Booking:
    starts = to_utc(day, dt.time.fromisoformat(start))
    return Booking.objects.create(
        patient=patient,
        chair=chair,
        plan=plan,
        planned_session=plan.sessions.get(number=number) if plan else None,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=minutes),
        booked_by=user,
        booked_at=timezone.now(),
    )


def make_session(booking: Booking) -> InfusionSession:
    assert booking.plan is not None and booking.planned_session is not None
    return InfusionSession.objects.create(
        patient=booking.patient,
        booking=booking,
        plan=booking.plan,
        planned_session=booking.planned_session,
    )


def next_weekday(weekday: int, after: dt.date | None = None) -> dt.date:
    """The first date after ``after`` (default today) falling on ``weekday`` (0 = Monday)."""
    day = (after or timezone.localdate()) + dt.timedelta(days=1)
    while day.weekday() != weekday:
        day += dt.timedelta(days=1)
    return day
