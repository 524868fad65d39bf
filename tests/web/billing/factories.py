"""Fees, signed sessions and a billing clerk for the billing tests.

A signed session is written directly (status ``signed``), as an imported record: the infusion
workflow that signs a note has its own tests, and the browser journey runs it for real.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from painclinic.web.infusions.models import (
    CancelReason,
    InfusionSession,
    SessionCancellation,
    SessionStatus,
)
from painclinic.web.lib.service import Actor
from painclinic.web.patients.models import Patient
from painclinic.web.treatments.models import FeeBasis, TaxCategory, TreatmentPlan
from painclinic.web.treatments.services import FeeItemInput, do_add_fee_item
from tests.web.scheduling.factories import make_booking, make_chair, make_plan, make_session

FEE_DATE = dt.date(2020, 1, 1)


def add_fee(
    admin: Actor,
    code: str,
    cents: int,
    basis: str = FeeBasis.PER_SESSION,
    *,
    tax: str = TaxCategory.EXEMPT_HEALTH,
    drug: str = "",
    **extra,
):
    return do_add_fee_item(
        admin,
        FeeItemInput(
            code=code,
            description=extra.pop("description", f"{code} service"),
            amount_cents=cents,
            basis=basis,
            effective_from=extra.pop("effective_from", FEE_DATE),
            tax_category=tax,
            drug=drug,
            **extra,
        ),
    )


def standard_fees(admin: Actor) -> None:
    """A ketamine session fee, a supplies fee, a planning fee, a missed fee and a taxable report."""
    add_fee(admin, "KET-SESSION", 45_000, drug="ketamine", description="Ketamine infusion")
    add_fee(admin, "SUPPLIES", 2_550, description="Pump set and line")
    add_fee(admin, "PLAN", 25_000, FeeBasis.PER_CONSULT, description="Planning and consent visit")
    add_fee(admin, "MISSED", 10_000, FeeBasis.MISSED, description="Missed appointment fee")
    add_fee(
        admin,
        "REPORT",
        15_000,
        FeeBasis.SERVICE,
        tax=TaxCategory.TAXABLE,
        description="Report for an insurer",
    )


def signed_sessions(
    patient: Patient, physician, front_desk, *, count: int = 2, plan: TreatmentPlan | None = None
) -> list[InfusionSession]:
    """``count`` sessions of one plan, each with a signed note (days in the past)."""
    plan = plan or make_plan(patient, physician, sessions=max(count, 5))
    chair = make_chair(f"Chair {plan.pk}")
    out = []
    for number in range(1, count + 1):
        day = timezone.localdate() - dt.timedelta(days=7 * (count - number + 1))
        booking = make_booking(
            patient, chair, front_desk, day, plan=plan, number=number, start="09:00"
        )
        session = make_session(booking)
        InfusionSession.objects.filter(pk=session.pk).update(status=SessionStatus.SIGNED)
        session.refresh_from_db()
        out.append(session)
    return out


def missed_session(patient: Patient, plan: TreatmentPlan, front_desk, nurse, number: int):
    chair = make_chair(f"Chair missed {number}")
    day = timezone.localdate() - dt.timedelta(days=1)
    booking = make_booking(patient, chair, front_desk, day, plan=plan, number=number)
    session = make_session(booking)
    InfusionSession.objects.filter(pk=session.pk).update(status=SessionStatus.CANCELLED)
    SessionCancellation.objects.create(
        session=session,
        reason=CancelReason.DID_NOT_ATTEND,
        status_before=SessionStatus.SCHEDULED,
        cancelled_by=nurse,
        cancelled_at=timezone.now(),
    )
    session.refresh_from_db()
    return session
