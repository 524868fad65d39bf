"""A series to follow: a patient, a plan and its bookings (test set-up, not a clinical path)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.patients.models import (
    Consent,
    ConsentDecision,
    ConsentKind,
    Patient,
    WeightMeasurement,
)
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair
from painclinic.web.treatments.models import PlanStatus, TreatmentPlan


def series(
    patient: Patient,
    physician: User,
    days: list[dt.date],
    *,
    chair_name: str = "Chair F1",
) -> TreatmentPlan:
    weight = WeightMeasurement.objects.create(
        patient=patient,
        weight_kg=Decimal("70.0"),
        height_cm=Decimal("170"),
        measured_on=days[0],
        recorded_by=physician,
        recorded_at=timezone.now(),
    )
    plan = TreatmentPlan.objects.create(
        patient=patient,
        drug="ketamine",
        protocol_id="ket-crps-series",
        protocol_version="test",
        weight=weight,
        dosing_weight_kg=Decimal("70.0"),
        plan_data={},
        limit_status="within",
        status=PlanStatus.ACTIVE,
        prescribed_by=physician,
        prescribed_at=timezone.now(),
    )
    chair, _ = Chair.objects.get_or_create(name=chair_name)
    for day in days:
        add_booking(plan, chair, day, physician)
    return plan


def add_booking(plan: TreatmentPlan, chair: Chair, day: dt.date, by: User) -> Booking:
    starts = to_utc(day, dt.time(10, 0))
    return Booking.objects.create(
        patient=plan.patient,
        chair=chair,
        plan=plan,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=4),
        status=BookingStatus.BOOKED,
        booked_by=by,
        booked_at=timezone.now(),
    )


def consent_to_email(patient: Patient, decision: str, on: dt.date, by: User) -> None:
    Consent.objects.create(
        patient=patient,
        kind=ConsentKind.EMAIL,
        decision=decision,
        decided_on=on,
        document_version="test",
        recorded_by=by,
        recorded_at=timezone.now(),
    )


def granted(patient: Patient, on: dt.date, by: User) -> None:
    consent_to_email(patient, ConsentDecision.GRANTED, on, by)


__all__ = ["Role", "add_booking", "consent_to_email", "granted", "series"]
