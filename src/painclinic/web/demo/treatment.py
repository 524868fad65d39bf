"""Demo treatment activity: chairs, fees, and a few patients carried through the real services
(assessment, eligibility decision, consent, checked plan, booked series) so that today's chair
board has infusions on it. Everything goes through the same ``do_*`` services and audit trail as
the pages do, acting as the demo staff through the command line (``Channel.CLI``: the audit
trail says the demo command did it, not a browser); run after ``load_demo``. Safe to run again
(patients that already have a plan are skipped)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from painclinic.web.accounts.models import User
from painclinic.web.assessments.services import (
    DrugDecision,
    EligibilityInput,
    build_facts,
    do_record_assessment,
    do_record_eligibility,
    do_resolve_checklist_item,
    evaluate,
    open_checklist_items,
)
from painclinic.web.demo.scheduling import load_chairs, load_holidays
from painclinic.web.demo.treatments import load_fee_schedule
from painclinic.web.lib.service import Actor, Channel
from painclinic.web.patients.models import Patient, SexAtBirth, WeightMeasurement
from painclinic.web.scheduling.models import Booking, Chair
from painclinic.web.scheduling.services import SchedulingError, do_book_series
from painclinic.web.treatments.models import PlanStatus, TreatmentPlan
from painclinic.web.treatments.services import (
    TreatmentConsentInput,
    do_create_plan,
    do_record_treatment_consent,
    estimate_cost,
    protocol_library,
)

DEMO_PROTOCOL = "ket-crps-outpatient"
DEMO_SESSIONS = 5
DEMO_ORIGIN = "painclinic demo"


@dataclass(frozen=True)
class TreatmentDemoSummary:
    plans: int
    bookings_today: int


def _as(user: User) -> Actor:
    return Actor.for_user(user, Channel.CLI, DEMO_ORIGIN)


def _budapest_met() -> dict:
    """Budapest (clinical) answers that meet the criteria: one symptom in every category and
    one sign in two, taking the item names from the instrument's own template."""
    from painclinic import clinical

    answers = json.loads(json.dumps(clinical.template("budapest").skeleton))
    answers["variant"] = "clinical"
    answers["disproportionate_pain"] = True
    for category in answers["symptoms"].values():
        category[next(iter(category))] = True
    for name in list(answers["signs"])[:2]:
        category = answers["signs"][name]
        category[next(iter(category))] = True
    answers["better_explained_by_other_diagnosis"] = False
    return answers


ECG_NOTE = (
    "12-lead ECG from the family physician's office (scanned to the chart): sinus rhythm "
    "72/min, normal PR, QRS and QTc; no ischaemic changes."
)


def _entered_facts(cardiac_risk: bool = False) -> EligibilityInput:
    """The eligibility form's facts. With ``cardiac_risk`` and no ECG on file the engine names
    the ECG as missing information (KET-MISS-001): a checklist item for the first infusion."""
    return EligibilityInput(
        condition="crps_1",
        comorbidities=("cardiac_risk_factors",) if cardiac_risk else (),
        current_medications=(),
        systolic_bp_mmhg=124,
        diastolic_bp_mmhg=78,
        heart_rate_bpm=72,
        respiratory_rate_per_min=14,
        spo2_percent=98,
        pregnancy="not_pregnant",
        active_substance_use_disorder=False,
        history_substance_use_disorder=False,
        poorly_controlled_psychosis=False,
        self_harm_risk=False,
        ecg_on_file=False,
        ecg_findings=(),
        liver_tests_on_file=True,
        other_local_anaesthetic_within_4h=False,
        prior_treatments=(),
    )


def _next_open_weekday(today: dt.date) -> dt.date:
    day = today
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _book_first_free_slot(
    actor: Actor, plan: TreatmentPlan, chairs: list[Chair], first_day: dt.date
) -> bool:
    """Book the series at the first day, chair and start time the scheduler accepts (a start
    already in the past, or a taken chair, is refused by the scheduler itself)."""
    day = first_day
    for _ in range(3):
        for start in (dt.time(8, 30), dt.time(12, 30)):
            for chair in chairs:
                try:
                    do_book_series(
                        actor, plan.pk, chair_id=chair.pk, first_date=day, start_time=start
                    )
                except SchedulingError:
                    continue
                return True
        day = _next_open_weekday(day + dt.timedelta(days=1))
    return False


def load_treatment_demo(patient_count: int = 3) -> TreatmentDemoSummary:
    load_fee_schedule(_as(User.objects.get(username="clinicadmin")))
    load_chairs()
    this_year = timezone.localdate().year
    load_holidays([this_year, this_year + 1])
    physician = User.objects.get(username="physician")
    nurse = User.objects.get(username="nurse")
    frontdesk = User.objects.get(username="frontdesk")
    chairs = list(Chair.objects.filter(active=True).order_by("name"))
    candidates = list(
        Patient.objects.filter(portal_user__isnull=True, plans__isnull=True)
        .exclude(
            sex_at_birth=SexAtBirth.FEMALE,
            date_of_birth__gt=timezone.localdate() - dt.timedelta(days=50 * 365),
        )
        .order_by("id")[:patient_count]
    )
    first_day = _next_open_weekday(timezone.localdate())
    made = 0
    for index, patient in enumerate(candidates):
        # The first and the last patient have cardiac risk factors and no ECG on file. The
        # first one's ECG is then obtained (the item resolved with a note, through the service);
        # the last one's is not, so that patient's first infusion shows the block.
        cardiac_risk = index in (0, len(candidates) - 1)
        keep_open = index == len(candidates) - 1 and len(candidates) > 1
        weight = WeightMeasurement.objects.create(
            patient=patient,
            weight_kg=Decimal("60.0") + 8 * index,
            height_cm=Decimal("168"),
            measured_on=timezone.localdate(),
            recorded_by=nurse,
            recorded_at=timezone.now(),
        )
        as_physician = _as(physician)
        do_record_assessment(as_physician, patient, "budapest", _budapest_met())
        do_record_assessment(as_physician, patient, "nrs", {"score": 7 - index % 2})
        entered = _entered_facts(cardiac_risk)
        facts, _ = build_facts(patient, entered)
        shown = evaluate(facts).to_dict()["ketamine"]["status"]
        do_record_eligibility(
            as_physician,
            patient,
            entered,
            [DrugDecision("ketamine", "accept", shown, "", shown)],
        )
        if not keep_open:
            for item in open_checklist_items(patient):
                do_resolve_checklist_item(as_physician, item, ECG_NOTE, item.version)
        drug = protocol_library().get(DEMO_PROTOCOL).drug
        estimate = estimate_cost(drug, DEMO_PROTOCOL, DEMO_SESSIONS)
        do_record_treatment_consent(
            as_physician,
            patient,
            TreatmentConsentInput(
                protocol_id=DEMO_PROTOCOL,
                sessions=DEMO_SESSIONS,
                patient_signed_name=f"{patient.legal_given_name} {patient.legal_family_name}",
                signature_method="paper",
                signature_confirmed=True,
                witness=nurse,
                signed_at=timezone.now(),
                shown_total_cents=estimate.total_cents,
            ),
        )
        plan = do_create_plan(
            as_physician,
            patient,
            protocol_id=DEMO_PROTOCOL,
            sessions=DEMO_SESSIONS,
            soft_limit_reason="",
            expected_weight_id=weight.pk,
        )
        if plan.status != PlanStatus.ACTIVE:
            continue
        if _book_first_free_slot(_as(frontdesk), plan, chairs, first_day):
            made += 1
    today_bookings = Booking.objects.filter(starts_at__date=first_day).count()
    return TreatmentDemoSummary(plans=made, bookings_today=today_bookings)
