"""A treated series with its infusions and answered follow-up (test set-up through the
follow-up services, as a nurse entering answers given by phone)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.services import system_actor
from painclinic.web.followup.models import AnswerChannel, FollowUpTimePoint
from painclinic.web.followup.services import do_plan_followup, do_save_answer, do_submit_time_point
from painclinic.web.infusions.models import InfusionSession, RateSegment, SessionStatus
from painclinic.web.lib.actor import Channel
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.patients.models import Patient
from painclinic.web.treatments.models import PlannedSession, TreatmentPlan
from tests.conftest import actor_as
from tests.web.followup.factories import series

INTERFERENCE = (
    "general_activity", "mood", "walking_ability", "normal_work", "relations_with_others",
    "sleep", "enjoyment_of_life",
)  # fmt: skip


def treated(
    patient: Patient,
    physician: User,
    days: list[dt.date],
    *,
    rate_mg_per_h: str = "25",
    hours: int = 4,
    protocol_id: str = "ket-crps-outpatient",
) -> TreatmentPlan:
    """A ketamine series whose every booking ran ``hours`` at ``rate_mg_per_h`` (signed)."""
    plan = series(patient, physician, days)
    plan.protocol_id = protocol_id
    plan.save(update_fields=["protocol_id"])
    for number, booking in enumerate(plan.bookings.order_by("starts_at"), start=1):
        planned = PlannedSession.objects.create(
            plan=plan, number=number, day_offset=number - 1, duration_min=hours * 60,
            total_mg=Decimal(rate_mg_per_h) * hours, steps=[],
        )  # fmt: skip
        session = InfusionSession.objects.create(
            patient=patient, booking=booking, plan=plan, planned_session=planned,
            status=SessionStatus.SIGNED, dosing_weight_kg=Decimal("70"),
        )  # fmt: skip
        RateSegment.objects.create(
            session=session, started_at=booking.starts_at,
            ended_at=booking.starts_at + dt.timedelta(hours=hours),
            dose_value=Decimal(rate_mg_per_h), dose_unit="mg/h",
            rate_mg_per_h=Decimal(rate_mg_per_h), rate_ml_per_h=Decimal(rate_mg_per_h),
            concentration_mg_per_ml=Decimal("1"), start_reason="start", end_reason="stop",
            started_by=physician, ended_by=physician,
        )  # fmt: skip
    do_plan_followup(system_actor(Channel.WORKER), days[0])
    return plan


def answer(
    nurse: User,
    plan: TreatmentPlan,
    key: str,
    nrs: int,
    pgic: int | None = 2,
    *,
    phq9_item: int = 1,
    interference: int = 3,
) -> FollowUpTimePoint:
    """Answer every questionnaire of time point ``key`` on its due day, then submit it."""
    point = FollowUpTimePoint.objects.get(plan=plan, key=key)
    now = to_utc(point.due_on, dt.time(11, 0))
    actor = actor_as(nurse)
    phone = AnswerChannel.PHONE
    for instrument in point.instruments:
        if instrument == "nrs":
            do_save_answer(actor, point.pk, "nrs", "score", nrs, phone, now)
        elif instrument == "pgic":
            do_save_answer(actor, point.pk, "pgic", "score", pgic, phone, now)
        elif instrument == "bpi":
            for k in ("worst", "least", "average", "now"):
                do_save_answer(actor, point.pk, "bpi", f"severity.{k}", nrs, phone, now)
            for k in INTERFERENCE:
                item = f"interference.{k}"
                do_save_answer(actor, point.pk, "bpi", item, interference, phone, now)
        elif instrument == "side_effects":
            do_save_answer(actor, point.pk, "side_effects", "new_side_effect", False, phone, now)
        elif instrument == "phq9":
            for i in range(9):
                value = 0 if i == 8 else phq9_item
                do_save_answer(actor, point.pk, "phq9", f"items[{i}]", value, phone, now)
    do_submit_time_point(actor, point.pk, phone, now)
    return point


__all__ = ["Role", "answer", "treated"]
