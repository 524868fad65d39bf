"""One of everything: a clinic whose every URL has a real object to open.

``build_world(users)`` carries two patients through the services (an assessment and its
correction, an eligibility decision with an override and a resolved checklist item, treatment
consents and a withdrawal, a soft-limit plan co-signed and cancelled, a ketamine infusion from
checklist to signed note with an amendment, a second infusion cancelled before its start, the
drug register's receipt, waste, destruction, count and discrepancy). Every free-text clinical
field is written with its own marker (``World.markers``), so a test can look for each one on
every page a role may open.

``url_patterns()`` walks the URL configuration; ``kwargs_for(name, world)`` gives the ids that
open each named URL on the world. The crawl tests (headers, methods, ids beyond the integer
range, clinical free text, the form fuzz) share them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.assessments import services as assessment_services
from painclinic.web.assessments.models import Assessment, ChecklistItem, EligibilityDecision
from painclinic.web.drugregister.models import Discrepancy
from painclinic.web.drugregister.services import (
    CountInput,
    ReceiptInput,
    do_record_count,
    do_record_destruction,
    do_record_receipt,
    do_record_waste,
    do_resolve_discrepancy,
)
from painclinic.web.followup.models import FollowUpTimePoint
from painclinic.web.infusions import services as infusion_services
from painclinic.web.infusions.inputs import (
    AcknowledgeInput,
    AdverseEventInput,
    AmendmentInput,
    CancelInput,
    DischargeInput,
    NoteInput,
    ObservationInput,
    PauseInput,
    RateChangeInput,
    ResumeInput,
    StopInput,
)
from painclinic.web.infusions.models import AdverseEvent, Alert, InfusionSession
from painclinic.web.patients.models import Consent, Patient
from painclinic.web.scheduling.models import Booking, Chair
from painclinic.web.treatments.models import FeeItem, TreatmentConsent, TreatmentPlan
from painclinic.web.treatments.services import (
    do_cancel_plan,
    do_cosign_plan,
    do_withdraw_treatment_consent,
)
from painclinic.web.worklist.models import Task
from painclinic.web.worklist.services import do_acknowledge_task, do_raise_task
from tests.conftest import PASSWORD, actor_as, make_patient, make_user
from tests.web.assessments.conftest import clean_entry
from tests.web.infusions.conftest import (
    PADSS_OK,
    fresh,
    make_booking,
    make_plan,
    recovery_round,
    run_to,
    waste_remainder,
)
from tests.web.treatments.conftest import sign_consent

# Free-text clinical fields: model field -> the marker written into it. Front desk and billing
# (whose roles exclude clinical notes) must see none of them on any page they can open.
CLINICAL_FREE_TEXT = (
    "assessment.correction_reason",
    "eligibility.override_reason",
    "checklist_item.resolution_note",
    "plan.soft_limit_reason",
    "plan.cosign_note",
    "plan.cancelled_reason",
    "treatment_consent.withdrawal_reason",
    "observation.note",
    "alert.action_taken",
    "adverse_event.description",
    "adverse_event.action_taken",
    "adverse_event.report_reference",
    "rate_segment.limit_reason",
    "pause.reason",
    "stop.reason",
    "session_note.text",
    "note_amendment.text",
    "note_amendment.reason",
    "session_cancellation.detail",
    "register_waste.reason",
    "register_destruction.reason",
    "stock_count.notes",
    "discrepancy_resolution.explanation",
    "worklist_task.summary",
    "worklist_task.action_taken",
)


def marker(name: str) -> str:
    """A unique word for one free-text field (no markup, survives escaping unchanged)."""
    return "ZQX" + re.sub(r"[^A-Z]", "", name.upper()) + "MARK"


@dataclass
class World:
    users: dict[Role, User]
    patient: Patient  # carried through everything
    other: Patient  # the cancelled infusion
    own_patient: Patient  # the portal user's record
    assessment: Assessment
    decision: EligibilityDecision
    item: ChecklistItem
    consent: TreatmentConsent
    plan: TreatmentPlan  # the infusion's plan (active)
    cancelled_plan: TreatmentPlan
    chair: Chair
    booking: Booking
    session: InfusionSession
    cancelled_session: InfusionSession
    alert: Alert
    adverse_event: AdverseEvent
    discrepancy: Discrepancy
    fee_item: FeeItem
    portal_consent: Consent
    worklist_task: Task  # open, urgent
    time_point: FollowUpTimePoint  # the portal patient's follow-up, open today
    markers: dict[str, str] = field(default_factory=dict)
    invoice: Any = None  # the signed session's invoice (billing pages)


def _m(markers: dict[str, str], name: str) -> str:
    markers[name] = marker(name)
    return markers[name]


def build_world(users: dict[Role, User]) -> World:
    """The clinic described in the module docstring (one test transaction, about a second)."""
    from painclinic.web.demo.treatments import load_fee_schedule

    m: dict[str, str] = {}
    physician, nurse, front = users[Role.PHYSICIAN], users[Role.NURSE], users[Role.FRONT_DESK]
    nurse2 = make_user(Role.NURSE, "rn_world")
    physician2 = make_user(Role.PHYSICIAN, "dr_world")
    as_physician, as_nurse = actor_as(physician), actor_as(nurse)

    load_fee_schedule(actor_as(users[Role.CLINIC_ADMIN]))
    do_record_receipt(
        as_nurse,
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

    patient = make_patient("Wendy", "Worldwide", health_card_number="9876543217")
    other = make_patient("Otto", "Otherworld")
    own = make_patient("Jordan", "Whitfield", portal_user=users[Role.PATIENT])
    portal_consent = Consent.objects.create(
        patient=own,
        kind="email",
        decision="granted",
        decided_on=timezone.localdate(),
        document_version="EMAIL-1",
        recorded_by=front,
        recorded_at=timezone.now(),
    )

    # Assessment and its correction; eligibility with an override; a resolved checklist item.
    first = assessment_services.do_record_assessment(as_physician, patient, "nrs", {"score": 9})
    assessment = assessment_services.do_record_assessment(
        as_physician,
        patient,
        "nrs",
        {"score": 7},
        supersedes=first,
        correction_reason=_m(m, "assessment.correction_reason"),
    )
    entry = clean_entry(pregnancy="unknown")
    facts, _ = assessment_services.build_facts(patient, entry)
    seen = assessment_services.evaluate(facts).to_dict()
    ket, lid = seen["ketamine"]["status"], seen["lidocaine"]["status"]
    lid_final = "eligible_with_cautions" if lid != "eligible_with_cautions" else "eligible"
    decisions = assessment_services.do_record_eligibility(
        as_physician,
        patient,
        entry,
        [
            assessment_services.DrugDecision("ketamine", "accept", "", "", ket),
            assessment_services.DrugDecision(
                "lidocaine", "override", lid_final, _m(m, "eligibility.override_reason"), lid
            ),
        ],
    )
    decision = next(d for d in decisions if d.drug == "lidocaine")
    open_items = list(ChecklistItem.objects.filter(patient=patient).order_by("id"))
    assert open_items, "the facts leave missing information to resolve"
    for open_item in open_items:  # all resolved: they would block the first infusion
        assessment_services.do_resolve_checklist_item(
            as_physician, open_item, _m(m, "checklist_item.resolution_note"), open_item.version
        )
    item = ChecklistItem.objects.get(pk=open_items[0].pk)

    # Consents (one withdrawn); a soft-limit plan co-signed, then cancelled.
    consent = sign_consent(patient, "ket-crps-outpatient", 10, physician, nurse)
    lid_consent = sign_consent(patient, "lid-5mgkg-60min", 1, physician, nurse)
    soft = make_plan(patient, physician, protocol_id="lid-5mgkg-60min", status="awaiting_cosign")
    soft.soft_limit_reason = _m(m, "plan.soft_limit_reason")
    soft.limit_status = "soft_limit"
    soft.save(update_fields=["soft_limit_reason", "limit_status"])
    soft = do_cosign_plan(actor_as(physician2), soft.pk, soft.version, _m(m, "plan.cosign_note"))
    cancelled_plan = do_cancel_plan(
        as_physician, soft.pk, soft.version, _m(m, "plan.cancelled_reason")
    )
    do_withdraw_treatment_consent(
        as_physician, lid_consent, _m(m, "treatment_consent.withdrawal_reason")
    )

    # The ketamine infusion, from checklist to a signed and amended note.
    plan = make_plan(patient, physician)
    booking = make_booking(plan, front)
    session = infusion_services.do_open_session(as_nurse, booking.pk)
    # Started 2 h ago: the stop 50 min ago leaves the 30-min recovery before the discharge.
    s = run_to(session, "running", nurse, nurse2, start_at=timezone.now() - dt.timedelta(hours=2))
    start = s.segments.get().started_at
    at = start + dt.timedelta(minutes=15)
    infusion_services.do_record_observation(
        as_nurse,
        s.pk,
        fresh(s).version,
        ObservationInput(
            observed_at=at,
            systolic_bp_mmhg=190,
            diastolic_bp_mmhg=100,
            heart_rate_bpm=80,
            respiratory_rate_per_min=14,
            spo2_percent=97,
            rass=0,
            note=_m(m, "observation.note"),
        ),
    )
    alert = Alert.objects.get(session=s)
    infusion_services.do_acknowledge_alert(
        as_nurse,
        s.pk,
        fresh(s).version,
        alert.pk,
        AcknowledgeInput(
            response="no_change",
            action_taken=_m(m, "alert.action_taken"),
            at=at + dt.timedelta(minutes=1),
        ),
    )
    infusion_services.do_record_adverse_event(
        as_nurse,
        s.pk,
        fresh(s).version,
        AdverseEventInput(
            occurred_at=at + dt.timedelta(minutes=2),
            event_type="hypertension",
            severity="severe",
            action_taken=_m(m, "adverse_event.action_taken"),
            outcome="resolving",
            description=_m(m, "adverse_event.description"),
            serious=True,
        ),
    )
    adverse_event = AdverseEvent.objects.get(session=s)
    infusion_services.do_mark_adverse_event_reported(
        as_physician, adverse_event.pk, _m(m, "adverse_event.report_reference")
    )
    infusion_services.do_pause(
        as_nurse,
        s.pk,
        fresh(s).version,
        PauseInput(at + dt.timedelta(minutes=5), _m(m, "pause.reason")),
    )
    infusion_services.do_resume(
        as_nurse, s.pk, fresh(s).version, ResumeInput(at + dt.timedelta(minutes=8))
    )
    infusion_services.do_change_rate(
        as_nurse,
        s.pk,
        fresh(s).version,
        RateChangeInput(  # above the 25 mg/h soft limit: the reason is kept
            at + dt.timedelta(minutes=10),
            Decimal("30"),
            "mg/h",
            _m(m, "rate_segment.limit_reason"),
        ),
    )
    stop_at = timezone.now() - dt.timedelta(minutes=50)
    infusion_services.do_stop(
        as_nurse, s.pk, fresh(s).version, StopInput(stop_at, _m(m, "stop.reason"))
    )
    recovery_round(s, nurse, stop_at + dt.timedelta(minutes=30))
    infusion_services.do_discharge(
        as_nurse,
        s.pk,
        fresh(s).version,
        DischargeInput.with_aldrete(
            stop_at + dt.timedelta(minutes=31),
            dict.fromkeys(
                ("activity", "respiration", "circulation", "consciousness", "oxygen_saturation"),
                2,
            ),
            escort_name="Sam Worldwide",
            escort_phone="416-555-0101",
            escort_confirmed=True,
            padss=PADSS_OK,
        ),
    )
    do_record_waste(
        as_nurse,
        fresh(s),
        concentration_mg_per_ml=Decimal("10"),
        amount_mg=Decimal("1"),
        witness=nurse2,
        witness_password=PASSWORD,
        reason=_m(m, "register_waste.reason"),
    )
    waste_remainder(s, nurse, nurse2)
    infusion_services.do_save_note(
        as_physician,
        s.pk,
        fresh(s).version,
        NoteInput(_m(m, "session_note.text"), sign=True),
    )
    infusion_services.do_amend_note(
        as_physician,
        s.pk,
        fresh(s).version,
        AmendmentInput(_m(m, "note_amendment.text"), _m(m, "note_amendment.reason")),
    )

    # A second patient's infusion, cancelled before its start.
    other_plan = make_plan(other, physician)
    other_booking = make_booking(other_plan, front)
    cancelled = infusion_services.do_open_session(as_nurse, other_booking.pk)
    infusion_services.do_cancel_session(
        as_nurse,
        cancelled.pk,
        cancelled.version,
        CancelInput(reason="other", detail=_m(m, "session_cancellation.detail")),
    )

    # The register: a destruction, and a count that disagrees with the ledger, explained.
    do_record_destruction(
        as_nurse,
        concentration_mg_per_ml=Decimal("10"),
        lot="KX123",
        amount_mg=Decimal("100"),
        witness=nurse2,
        witness_password=PASSWORD,
        reason=_m(m, "register_destruction.reason"),
    )
    do_record_count(
        as_nurse,
        CountInput(
            concentration_mg_per_ml=Decimal("10"),
            full_vials=1,
            vial_volume_ml=Decimal("10"),
            notes=_m(m, "stock_count.notes"),
        ),
    )
    discrepancy = Discrepancy.objects.latest("id")
    do_resolve_discrepancy(
        as_physician, discrepancy.pk, _m(m, "discrepancy_resolution.explanation")
    )

    # The worklist: an open urgent task (its summary is clinical text) and an acknowledged one.
    worklist_task = do_raise_task(
        as_physician,
        patient,
        "followup_answers",
        "urgent",
        _m(m, "worklist_task.summary"),
        source_type="world",
        source_id=1,
        assigned_to=physician,
    )
    done_task = do_raise_task(
        as_physician,
        patient,
        "followup_answers",
        "soon",
        "Pain rose since the previous follow-up.",
        source_type="world",
        source_id=2,
        assigned_to=physician,
    )
    do_acknowledge_task(as_nurse, done_task.pk, _m(m, "worklist_task.action_taken"))

    # Billing: the signed session invoiced (the billing pages open it).
    from painclinic.web.billing.services import do_issue_session_invoice

    issued = do_issue_session_invoice(actor_as(users[Role.BILLING]), patient.pk, [s.pk])

    assert set(m) == set(CLINICAL_FREE_TEXT), set(CLINICAL_FREE_TEXT) ^ set(m)
    return World(
        users=users,
        patient=patient,
        other=other,
        own_patient=own,
        assessment=assessment,
        decision=decision,
        item=item,
        consent=consent,
        plan=plan,
        cancelled_plan=cancelled_plan,
        chair=booking.chair,
        booking=booking,
        session=fresh(s),
        cancelled_session=fresh(cancelled),
        alert=alert,
        adverse_event=adverse_event,
        discrepancy=discrepancy,
        fee_item=FeeItem.objects.order_by("id").first(),  # type: ignore[arg-type]
        portal_consent=portal_consent,
        worklist_task=worklist_task,
        time_point=FollowUpTimePoint.objects.create(
            # The portal patient's follow-up, open for answers today (set up directly: the
            # portal patient has no series of their own in this world).
            plan=plan,
            patient=own,
            key="world_week_1",
            label="1 week after the series",
            opens_on=timezone.localdate() - dt.timedelta(days=2),
            due_on=timezone.localdate(),
            overdue_from=timezone.localdate() + dt.timedelta(days=3),
            closes_on=timezone.localdate() + dt.timedelta(days=10),
            instruments=["nrs", "bpi", "pgic", "phq9"],
            policy_version="world",
            created_at=timezone.now(),
        ),
        markers=m,
        invoice=issued.patient_invoice,
    )


@dataclass
class Stages:
    """One infusion session at each step of the day, each for its own patient (one running
    infusion per patient), for pages that act only at that step."""

    scheduled: InfusionSession  # opened: the checklist is next
    checklist: InfusionSession  # checklist done: the bag is next
    prepared: InfusionSession  # bag prepared: the double check is next
    checked: InfusionSession  # double-checked: the start is next
    running: InfusionSession  # running, with an open alert and an unreported serious event
    paused: InfusionSession
    stopped: InfusionSession  # stopped: discharge, waste and the note are next
    unopened: Booking  # a booking whose chart is not open yet
    alert: Alert
    serious_event: AdverseEvent


def build_stages(world: World) -> Stages:
    """Sessions at every step (built after ``build_world``; about half a second)."""
    from tests.web.infusions.conftest import prep_input

    physician, nurse, front = (
        world.users[r] for r in (Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK)
    )
    nurse2 = User.objects.get(username="rn_world")
    as_nurse = actor_as(nurse)

    do_record_receipt(  # the stock the stages' bags are drawn from
        as_nurse,
        ReceiptInput(
            drug="ketamine",
            concentration_mg_per_ml=Decimal("10"),
            vial_volume_ml=Decimal("10"),
            vial_count=50,
            lot="KX123",
            expiry_date=timezone.localdate() + dt.timedelta(days=365),
            supplier="Test supplier",
            reference="PO-2",
        ),
    )

    def opened(family: str) -> InfusionSession:
        patient = make_patient("Stage", family)
        booking = make_booking(make_plan(patient, physician), front)
        return infusion_services.do_open_session(as_nurse, booking.pk)

    scheduled = opened("Scheduled")
    checklist = run_to(opened("Checklist"), "checklist", nurse, nurse2)
    prepared = run_to(opened("Prepared"), "checklist", nurse, nurse2)
    infusion_services.do_prepare_bag(as_nurse, prepared.pk, fresh(prepared).version, prep_input())
    checked = run_to(opened("Checked"), "prepared", nurse, nurse2)
    running = run_to(opened("Running"), "running", nurse, nurse2)
    start = running.segments.get().started_at
    infusion_services.do_record_observation(
        as_nurse,
        running.pk,
        fresh(running).version,
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
    infusion_services.do_record_adverse_event(
        as_nurse,
        running.pk,
        fresh(running).version,
        AdverseEventInput(
            occurred_at=start + dt.timedelta(minutes=16),
            event_type="hypertension",
            severity="severe",
            action_taken="Rate reduced",
            outcome="resolving",
            serious=True,
        ),
    )
    paused = run_to(opened("Paused"), "running", nurse, nurse2)
    infusion_services.do_pause(
        as_nurse, paused.pk, fresh(paused).version, PauseInput(timezone.now(), "")
    )
    stopped = run_to(opened("Stopped"), "running", nurse, nurse2)
    infusion_services.do_stop(
        as_nurse, stopped.pk, fresh(stopped).version, StopInput(timezone.now(), "")
    )
    unopened_patient = make_patient("Stage", "Unopened")
    unopened = make_booking(make_plan(unopened_patient, physician), front)
    return Stages(
        scheduled=fresh(scheduled),
        checklist=fresh(checklist),
        prepared=fresh(prepared),
        checked=fresh(checked),
        running=fresh(running),
        paused=fresh(paused),
        stopped=fresh(stopped),
        unopened=unopened,
        alert=Alert.objects.get(session=running),
        serious_event=AdverseEvent.objects.get(session=running),
    )


@contextmanager
def clear_of_midnight() -> Iterator[None]:
    """A chart opens on its booking's clinic day, and the world books a few hours either side
    of now: from 21:00 to 03:00 clinic time, build and test at noon of that day instead (the
    clock keeps ticking)."""
    import time_machine

    now = timezone.localtime()
    if 3 <= now.hour < 21:
        yield
        return
    with time_machine.travel(now.replace(hour=12), tick=True):
        yield


# --- the URL configuration, walked --------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    route: str  # the full route with its converters, e.g. "patients/<id:patient_id>/"

    @property
    def parameters(self) -> list[tuple[str, str]]:
        """(converter, name) of each parameter, in order."""
        return re.findall(r"<(?:(\w+):)?(\w+)>", self.route)

    def path(self, values: dict[str, Any]) -> str:
        """The path with each parameter replaced by ``values[name]`` (no converter check)."""

        def fill(match: re.Match[str]) -> str:
            return str(values[match.group(2)])

        return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, self.route)


def url_patterns() -> list[Route]:
    """Every named URL of the project with its full route."""
    found: list[Route] = []

    def walk(patterns: Any, prefix: str, namespace: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                found.append(Route(name, route))

    walk(get_resolver().url_patterns, "", "")
    return found


def kwargs_for(name: str, world: World) -> dict[str, Any]:
    """The URL parameters that open ``name`` on ``world`` (every parameter name is known)."""
    session = world.session
    values: dict[str, Any] = {
        "patient_id": world.patient.pk,
        "user_id": world.users[Role.NURSE].pk,
        "instrument": "nrs",
        "assessment_id": world.assessment.pk,
        "decision_id": world.decision.pk,
        "item_id": world.item.pk,
        "discrepancy_id": world.discrepancy.pk,
        "session_id": session.pk,
        "booking_id": world.booking.pk,
        "event_id": world.adverse_event.pk,
        "alert_id": world.alert.pk,
        "weight_id": world.patient.weights.order_by("id").first().pk,  # type: ignore[union-attr]
        "consent_id": world.consent.pk,
        "chair_id": world.chair.pk,
        "plan_id": world.plan.pk,
        "time_point_id": world.time_point.pk,
        "number": 1,
        "token": "x" * 43,
        "task_id": world.worklist_task.pk,
        "invoice_id": getattr(world.invoice, "pk", 0),
        "day": timezone.localdate().isoformat(),
        "year": timezone.localdate().year,
        "referral_id": world_referral(world).pk,
    }
    if name == "portal:consent":
        values["consent_id"] = world.portal_consent.pk
    if name == "treatments:fee_deactivate":
        values["item_id"] = world.fee_item.pk
    route = next(r for r in url_patterns() if r.name == name)
    return {key: values[key] for _, key in route.parameters}


def world_referral(world: World) -> Any:
    """A self-referral waiting for triage (made on first use; no letter, so no file)."""
    from painclinic.web.referrals.models import Referral

    referral = getattr(world, "_referral", None)
    if referral is None:
        referral = Referral.objects.create(
            kind="self",
            given_name="Noor",
            family_name="Haddad-World",
            date_of_birth=dt.date(1979, 4, 9),
            condition="fibromyalgia",
            submitted_at=timezone.now(),
        )
        world._referral = referral  # type: ignore[attr-defined]
    return referral


def url_of(name: str, world: World) -> str:
    route = next(r for r in url_patterns() if r.name == name)
    return route.path(kwargs_for(name, world))


def access_matrix() -> dict[str, set[Role]]:
    """Who may GET each URL: every area's ``URL_MATRIX`` (tests/web/**), merged."""
    import importlib.util
    import pkgutil
    from pathlib import Path

    import tests.web

    merged: dict[str, set[Role]] = {}
    for info in pkgutil.walk_packages(tests.web.__path__, "tests.web."):
        spec = importlib.util.find_spec(info.name)
        origin = spec.origin if spec else None
        # Only the modules that declare a matrix: a test module written first, before the
        # code it tests, may not import yet.
        if not origin or "URL_MATRIX" not in Path(origin).read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(info.name)
        for name, roles in getattr(module, "URL_MATRIX", {}).items():
            merged.setdefault(name, set()).update(roles)
    return merged


def client_as(world: World, role: Role) -> Any:
    """A signed-in client (a clinic admin has passed two-factor)."""
    from tests.conftest import logged_in_client

    return logged_in_client(world.users[role])


PUBLIC_URLS = {
    # Online referral: the two public forms and their thank-you pages.
    "referrals:physician_form",
    "referrals:physician_thanks",
    "referrals:self_form",
    "referrals:self_thanks",
    # The front door (a signed-in user goes on to their home) and the public patient pages.
    "home",
    "public:index",
    "public:chronic_pain",
    "public:ketamine",
    "public:routes",
    "public:conditions",
    "public:relief",
    "public:costs",
    "public:infusion_day",
    "healthz",
    # The language switch (English / Français): anyone may choose the language they read.
    "set_language",
    "accounts:login",
    "accounts:logout",
    # The single-use questionnaire link: a visitor who is not signed in.
    "link:open",
    "link:question",
    "link:review",
    "link:done",
}
SIGNED_IN_ROLES = [r for r in Role if r != Role.SYSTEM]
