"""Demo follow-up: the portal patient finished a ketamine series a week ago.

Jordan Whitfield (the ``patient`` demo login) had three infusions, 11, 9 and 7 days ago; the
series is history imported with its bookings (as a clinic moving to painclinic would bring
its last series in), and everything after it goes through the follow-up services as in the
clinic: the time points are planned by ``do_plan_followup``, the baseline and end-of-series
questionnaires were answered in the portal on their days (the services take the day), and
the one-week questionnaire is due today. With ``make run`` the worker's first tick after
09:00 sends its reminder to the console; signing in as ``patient`` shows it due, with the
pain trajectory so far. Idempotent: nothing is added when Jordan's follow-up exists.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.services import system_actor
from painclinic.web.followup.models import AnswerChannel, FollowUpTimePoint
from painclinic.web.followup.services import (
    do_plan_followup,
    do_save_answer,
    do_submit_time_point,
)
from painclinic.web.lib.actor import Actor, Channel
from painclinic.web.lib.clinictime import local_today, to_utc
from painclinic.web.patients.models import (
    Consent,
    ConsentDecision,
    ConsentKind,
    Patient,
    WeightMeasurement,
)
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair
from painclinic.web.treatments.models import Drug, PlanStatus, TreatmentPlan

SERIES_DAYS_AGO = (11, 9, 7)
PROTOCOL_ID = "ket-crps-outpatient"


def _answers(actor: Actor, point: FollowUpTimePoint, on: dt.datetime, nrs: int) -> None:
    channel = AnswerChannel.PORTAL
    do_save_answer(actor, point.pk, "nrs", "score", nrs, channel, on)
    for key in ("worst", "least", "average", "now"):
        value = {"worst": nrs + 1, "least": max(nrs - 2, 0)}.get(key, nrs)
        do_save_answer(actor, point.pk, "bpi", f"severity.{key}", min(value, 10), channel, on)
    for key in (
        "general_activity",
        "mood",
        "walking_ability",
        "normal_work",
        "relations_with_others",
        "sleep",
        "enjoyment_of_life",
    ):
        do_save_answer(actor, point.pk, "bpi", f"interference.{key}", nrs, channel, on)
    for i in range(9):
        do_save_answer(actor, point.pk, "phq9", f"items[{i}]", 1 if i < 3 else 0, channel, on)
    if "pgic" in point.instruments:
        do_save_answer(actor, point.pk, "pgic", "score", 2, channel, on)
    if "side_effects" in point.instruments:
        do_save_answer(actor, point.pk, "side_effects", "new_side_effect", False, channel, on)
    do_submit_time_point(actor, point.pk, channel, on)


def load_followup_demo() -> int:
    """Jordan Whitfield's past series and its follow-up; returns the time points planned."""
    patient = Patient.objects.filter(portal_user__username="patient").first()
    physician = User.objects.filter(role=Role.PHYSICIAN, is_active=True).order_by("pk").first()
    front_desk = User.objects.filter(role=Role.FRONT_DESK, is_active=True).order_by("pk").first()
    chair = Chair.objects.filter(active=True).order_by("pk").first()
    if patient is None or physician is None or front_desk is None or chair is None:
        return 0
    if FollowUpTimePoint.objects.filter(patient=patient).exists():
        return 0
    today = local_today()
    days = [today - dt.timedelta(days=n) for n in SERIES_DAYS_AGO]
    now = timezone.now()
    with transaction.atomic():
        if not Consent.objects.filter(
            patient=patient, kind=ConsentKind.EMAIL, decision=ConsentDecision.GRANTED
        ).exists():
            Consent.objects.create(
                patient=patient,
                kind=ConsentKind.EMAIL,
                decision=ConsentDecision.GRANTED,
                decided_on=days[0] - dt.timedelta(days=14),
                document_version="EMAIL-2026-01",
                recorded_by=front_desk,
                recorded_at=now,
            )
        weight = WeightMeasurement.objects.create(
            patient=patient,
            weight_kg=Decimal("72.4"),
            height_cm=Decimal("171"),
            measured_on=days[0],
            recorded_by=physician,
            recorded_at=now,
        )
        plan = TreatmentPlan.objects.create(
            patient=patient,
            drug=Drug.KETAMINE,
            protocol_id=PROTOCOL_ID,
            protocol_version="imported history",
            weight=weight,
            dosing_weight_kg=Decimal("72.4"),
            plan_data={"imported": "demo history: a series given before painclinic"},
            limit_status="within",
            status=PlanStatus.COMPLETED,
            prescribed_by=physician,
            prescribed_at=to_utc(days[0] - dt.timedelta(days=14), dt.time(10)),
        )
        for day in days:
            starts = to_utc(day, dt.time(9, 0))
            Booking.objects.create(
                patient=patient,
                chair=chair,
                plan=plan,
                starts_at=starts,
                ends_at=starts + dt.timedelta(hours=4),
                status=BookingStatus.COMPLETED,
                booked_by=front_desk,
                booked_at=to_utc(days[0] - dt.timedelta(days=10), dt.time(11)),
            )
    do_plan_followup(system_actor(Channel.CLI, "painclinic demo"), today)
    actor = Actor.for_user(patient.portal_user, Channel.WEB, "painclinic demo: portal answers")
    points = {p.key: p for p in FollowUpTimePoint.objects.filter(plan=plan)}
    _answers(actor, points["baseline"], to_utc(days[0] - dt.timedelta(days=1), dt.time(19)), 7)
    _answers(actor, points["end_of_series"], to_utc(days[-1], dt.time(20)), 3)
    return len(points)
