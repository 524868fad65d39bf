"""Infusion-day pages: thin views over forms and ``do_*`` services."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from painclinic.clinical.instruments.scales import PADSS_ITEMS
from painclinic.clinical.monitoring import measure_words
from painclinic.web.accounts.models import Role
from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.assessments.services import latest_eligibility_decision
from painclinic.web.audit.services import Action, audit
from painclinic.web.infusions import readiness, recovery, services
from painclinic.web.infusions.access import (
    INFUSION_CATEGORY,
    get_child_for,
    get_session_for,
)
from painclinic.web.infusions.chart import (
    banner_for,
    build_chart,
    concentration_svg_for,
    event_items,
    observation_rows,
    schedule_items,
    summary_text,
    user_names,
)
from painclinic.web.infusions.forms import (
    AcknowledgeForm,
    AdverseEventForm,
    AmendmentForm,
    CancelSessionForm,
    ChecklistForm,
    DischargeForm,
    DoubleCheckForm,
    NoteForm,
    ObservationForm,
    OpenOffDayForm,
    PauseForm,
    PrepareForm,
    RateChangeForm,
    ReportedForm,
    ResumeForm,
    StartForm,
    StopForm,
    VersionedForm,
    WasteRemainderForm,
)
from painclinic.web.infusions.inputs import NoteInput
from painclinic.web.infusions.models import (
    AdverseEvent,
    Alert,
    BagPreparation,
    InfusionSession,
    PreparationStatus,
    RateSegment,
    SessionEvent,
    SessionNote,
    SessionStatus,
)
from painclinic.web.infusions.roles import ROLES
from painclinic.web.infusions.rules import Refused, drug_entry, first_step, fmt
from painclinic.web.infusions.services import NoteLocked, SessionConflict
from painclinic.web.infusions.waste import WasteDue, waste_due
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.patients.access import read_for


def _chart_redirect(session: InfusionSession) -> HttpResponse:
    return redirect("infusions:session", session_id=session.pk)


def _conflict(
    request: HttpRequest, session: InfusionSession, error: SessionConflict
) -> HttpResponse:
    """The conflict page (the service audited the conflict after its rollback)."""
    context = {
        "session": session,
        "banner": banner_for(error.session),
        "conflict": error,
        "title": "Someone else charted first",
    }
    return render(request, "infusions/conflict.html", context, status=409)


def _form_page(
    request: HttpRequest,
    session: InfusionSession,
    form: VersionedForm,
    call: Callable[[VersionedForm], Any],
    *,
    title: str,
    success: Callable[[Any], str] | str,
    template: str = "infusions/form.html",
    extra: dict[str, Any] | None = None,
    submit: str = "Save",
) -> HttpResponse:
    """A chart form: on a valid POST, ``call(form)`` runs the service (which audits its own
    refusals and conflicts); a refusal goes back on the form's field."""
    if request.method == "POST" and form.is_valid():
        try:
            result = call(form)
        except SessionConflict as error:
            return _conflict(request, session, error)
        except Refused as error:
            form.refuse(error)
        else:
            text = success(result) if callable(success) else success
            # Alerts and mismatches are shown in red, not as a green "saved".
            urgent = text.startswith(("ALERT", "MISMATCH"))
            (messages.error if urgent else messages.success)(request, text)
            return _chart_redirect(session)
    context = {
        "session": session,
        "banner": banner_for(session),
        "form": form,
        "title": title,
        "submit": submit,
        **(extra or {}),
    }
    return render(request, template, context)


# --- open and chart -------------------------------------------------------------------------


@allow_roles(ROLES.open_session)
@require_POST
def open_session(request: HttpRequest, booking_id: int) -> HttpResponse:
    try:
        session = services.do_open_session(actor_of(request), booking_id)
    except Refused as error:
        return render(
            request,
            "infusions/refused.html",
            {"title": "The infusion cannot be opened", "message": error.message},
            status=409,
        )
    return _chart_redirect(session)


@allow_roles(ROLES.open_session_off_day)
@require_http_methods(["GET", "POST"])
def open_session_off_day(request: HttpRequest, booking_id: int) -> HttpResponse:
    """A physician opens the chart of a booking on another day than its own, with the reason."""
    from painclinic.web.scheduling.models import Booking

    actor = actor_of(request)
    booking = read_for(
        actor,
        Booking.objects.select_related("patient", "chair", "plan", "planned_session"),
        booking_id,
        category=INFUSION_CATEGORY,
        patient_of=lambda row: row.patient,
        detail={"purpose": "open the chart on another day"},
    )
    form = OpenOffDayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.do_open_session_off_day(
                actor, booking.pk, form.cleaned_data["reason"]
            )
        except Refused as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request, "Chart opened with your reason. The nurse charts the infusion as usual."
            )
            return _chart_redirect(session)
    context = {
        "booking": booking,
        "form": form,
        "today": timezone.localdate(),
        "title": "Open the chart on another day",
    }
    return render(request, "infusions/open_off_day.html", context)


def _next_action(session: InfusionSession, chart: Any) -> tuple[str, str] | None:
    status = session.status
    if status == SessionStatus.SCHEDULED:
        return "infusions:checklist", "Complete the pre-infusion checklist"
    if status == SessionStatus.CHECKLIST_DONE:
        if any(p.status == PreparationStatus.AWAITING_CHECK for p in chart.preparations):
            return "infusions:double_check", "Independent double check (second nurse)"
        return "infusions:prepare", "Prepare the bag"
    if status == SessionStatus.PREPARED:
        return "infusions:start", "Start the infusion"
    if status == SessionStatus.RUNNING:
        return "infusions:observe", "Record an observation"
    if status == SessionStatus.PAUSED:
        return "infusions:resume", "Resume the infusion"
    if status == SessionStatus.STOPPED:
        return "infusions:discharge", "Discharge"
    if status == SessionStatus.DISCHARGED:
        return "infusions:note", "Write and sign the note"
    if status == SessionStatus.SIGNED:
        return "infusions:note", "Open the signed note"
    return None


@allow_roles(ROLES.view_chart)
@require_safe
def session_chart(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id)
    chart = build_chart(session)
    role = acting_user(request).role
    names = user_names(chart)
    context_now = timezone.now()
    context = {
        "session": session,
        "chart": chart,
        "names": names,
        "observation_rows": observation_rows(chart.observations, names),
        "event_items": event_items(chart.events, names),
        "schedule_items": schedule_items(chart.schedule),
        "banner": chart.banner,
        "next_action": _next_action(session, chart),
        "is_nurse": role == Role.NURSE,
        "now": context_now,
        "drug_entry": drug_entry(session.plan.drug),
        "first_step": first_step(session) if chart.steps else None,
        "delivered": fmt(chart.delivered_mg, "mg"),
        "planned": fmt(chart.planned_mg, "mg"),
        "overdue": [d for d in chart.schedule if d.state == "overdue"],
        "missed": [d for d in chart.schedule if d.state == "missed"],
        "readiness": readiness.Readiness(session)
        if session.status in services.CANCELLABLE_STATUSES
        else None,
        "can_cancel": session.status in services.CANCELLABLE_STATUSES
        and role in ROLES.cancel_session,
        "cancellation": _cancellation(session),
        "ae_rows": [(e, _report_state(e, context_now)) for e in chart.adverse_events],
        "can_report": role in ROLES.mark_adverse_event_reported,
        "recovery": _recovery_context(session, context_now),
        **_waste_context(session, chart, acting_user(request).pk),
    }
    return render(request, "infusions/chart.html", context)


def _recovery_context(session: InfusionSession, now: Any) -> dict[str, Any] | None:
    """After the stop and before discharge: the recovery minutes and what discharge still
    needs, in plain words (the discharge form's own scores and escort are asked there)."""
    if session.status != SessionStatus.STOPPED:
        return None
    status = recovery.discharge_status(session, now)
    ended = status.ended_at
    return {
        "minutes": max((now - ended).total_seconds() / 60, 0.0) if ended else None,
        "still_missing": recovery.still_missing(status, include_form=False),
    }


def _cancellation(session: InfusionSession) -> Any:
    if session.status != SessionStatus.CANCELLED:
        return None
    from painclinic.web.infusions.models import SessionCancellation

    return (
        SessionCancellation.objects.select_related("cancelled_by", "waste_entry__witness")
        .filter(session=session)
        .first()
    )


def _waste_context(session: InfusionSession, chart: Any, user_id: int) -> dict[str, Any]:
    """After the stop, for a controlled drug: drawn, delivered and the remainder to waste
    (computed), with the witness's form while something is left."""
    if session.status not in (
        SessionStatus.STOPPED,
        SessionStatus.DISCHARGED,
        SessionStatus.SIGNED,
    ):
        return {}
    due = waste_due(session, delivered=chart.delivered_mg)
    if due is None:
        return {}
    form = None
    if due.outstanding and session.status != SessionStatus.SIGNED:
        form = WasteRemainderForm(session=session, user_id=user_id)
    return {"waste": due, "waste_form": form}


def _report_state(event: AdverseEvent, now: Any) -> str:
    if not event.serious:
        return ""
    if event.reported_at is not None:
        return "reported"
    if event.report_due_at is not None and now > event.report_due_at:
        return "overdue"
    return "due"


@allow_roles(ROLES.view_chart)
@require_safe
def concentration_chart(request: HttpRequest, session_id: int) -> HttpResponse:
    """The predicted-concentration SVG of the chart page (its own request, cached)."""
    session = get_session_for(
        actor_of(request), session_id, detail={"purpose": "concentration chart"}
    )
    svg = concentration_svg_for(session)
    if svg is None:
        return HttpResponse(status=204)
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=60"
    return response


# --- checklist ------------------------------------------------------------------------------


@allow_roles(ROLES.complete_checklist)
@require_http_methods(["GET", "POST"])
def checklist(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "checklist"})
    form = ChecklistForm(request.POST or None, session=session)
    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_complete_checklist(
            actor_of(request), session.pk, f.version, f.to_input()
        ),
        title="Pre-infusion checklist",
        template="infusions/checklist.html",
        success="Checklist passed. Next: prepare the bag.",
        extra={
            "eligibility": latest_eligibility_decision(session.patient, session.plan.drug),
            "readiness": readiness.Readiness(session),
        },
        submit="Checklist passed",
    )


# --- bag preparation and double check -------------------------------------------------------


@allow_roles(ROLES.prepare_bag)
@require_http_methods(["GET", "POST"])
def prepare(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "prepare"})
    form = PrepareForm(request.POST or None, session=session)
    entry = drug_entry(session.plan.drug)
    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_prepare_bag(actor_of(request), session.pk, f.version, f.to_input()),
        title="Prepare the bag (nurse 1)",
        template="infusions/prepare.html",
        success="Bag prepared. A second nurse must now do the independent double check.",
        extra={
            "entry": entry,
            "vials": [fmt(v, "mg/mL") for v in entry.vial_concentrations_mg_per_ml],
            "step": first_step(session),
            "is_ketamine": session.plan.drug == "ketamine",
        },
        submit="Bag prepared",
    )


@allow_roles(ROLES.double_check)
@require_http_methods(["GET", "POST"])
def double_check(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "double_check"})
    pending = BagPreparation.objects.filter(
        session=session, status=PreparationStatus.AWAITING_CHECK
    ).first()
    form = DoubleCheckForm(request.POST or None, session=session)
    same_user = pending is not None and pending.prepared_by_id == acting_user(request).pk

    def success(check: Any) -> str:
        if check.matches:
            return "Double check matches nurse 1 and the plan. The infusion may start."
        return "MISMATCH: the infusion cannot start. Prepare a new bag and double-check again."

    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_double_check(actor_of(request), session.pk, f.version, f.to_input()),
        title="Independent double check (nurse 2)",
        template="infusions/double_check.html",
        success=success,
        extra={"pending": pending is not None, "same_user": same_user},
        submit="Submit my independent check",
    )


# --- start, pause, resume, rate change, stop ------------------------------------------------


def _timed(
    request: HttpRequest,
    session_id: int,
    form_class: type[VersionedForm],
    call: Callable[[InfusionSession, VersionedForm], Any],
    title: str,
    success: Callable[[Any], str] | str,
    submit: str,
    extra: dict[str, Any] | Callable[[InfusionSession], dict[str, Any]] | None = None,
) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": title})
    if callable(extra):
        extra = extra(session)
    form = form_class(
        request.POST or None, session=session, not_before=services.last_event_at(session)
    )
    running = RateSegment.objects.filter(session=session, ended_at__isnull=True).first()
    return _form_page(
        request,
        session,
        form,
        lambda f: call(session, f),
        title=title,
        success=success,
        submit=submit,
        extra={"running": running, **(extra or {})},
    )


def _pump(segment: RateSegment) -> str:
    return (
        f"Set the pump to {fmt(segment.rate_ml_per_h, 'mL/h')} "
        f"({fmt(segment.rate_mg_per_h, 'mg/h')} at "
        f"{fmt(segment.concentration_mg_per_ml, 'mg/mL')})."
    )


@allow_roles(ROLES.start)
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, session_id: int) -> HttpResponse:
    return _timed(
        request,
        session_id,
        StartForm,
        lambda s, f: services.do_start(actor_of(request), s.pk, f.version, f.to_input()),
        "Start the infusion",
        lambda seg: "Infusion started. " + _pump(seg),
        "Start",
        extra=lambda s: {"readiness": readiness.Readiness(s)},
    )


@allow_roles(ROLES.pause)
@require_http_methods(["GET", "POST"])
def pause(request: HttpRequest, session_id: int) -> HttpResponse:
    return _timed(
        request,
        session_id,
        PauseForm,
        lambda s, f: services.do_pause(actor_of(request), s.pk, f.version, f.to_input()),
        "Pause the infusion",
        "Infusion paused.",
        "Pause",
    )


@allow_roles(ROLES.resume)
@require_http_methods(["GET", "POST"])
def resume(request: HttpRequest, session_id: int) -> HttpResponse:
    return _timed(
        request,
        session_id,
        ResumeForm,
        lambda s, f: services.do_resume(actor_of(request), s.pk, f.version, f.to_input()),
        "Resume the infusion",
        lambda seg: "Infusion resumed. " + _pump(seg),
        "Resume",
    )


@allow_roles(ROLES.change_rate)
@require_http_methods(["GET", "POST"])
def rate_change(request: HttpRequest, session_id: int) -> HttpResponse:
    return _timed(
        request,
        session_id,
        RateChangeForm,
        lambda s, f: services.do_change_rate(actor_of(request), s.pk, f.version, f.to_input()),
        "Change the rate",
        lambda seg: "Rate changed. " + _pump(seg),
        "Change the rate",
        extra={"rate_help": True},
    )


@allow_roles(ROLES.stop)
@require_http_methods(["GET", "POST"])
def stop(request: HttpRequest, session_id: int) -> HttpResponse:
    return _timed(
        request,
        session_id,
        StopForm,
        lambda s, f: services.do_stop(actor_of(request), s.pk, f.version, f.to_input()),
        "Stop the infusion",
        "Infusion stopped. Observe the patient until discharge.",
        "Stop",
    )


# --- observations, alerts, adverse events ---------------------------------------------------


@allow_roles(ROLES.record_observation)
@require_http_methods(["GET", "POST"])
def observe(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "observation"})
    first = RateSegment.objects.filter(session=session).order_by("started_at").first()
    form = ObservationForm(
        request.POST or None, session=session, not_before=first.started_at if first else None
    )

    def success(observation: Any) -> str:
        missing = ", ".join(
            measure_words(m) for m in (observation.decision or {}).get("not_recorded", [])
        )
        if observation.action not in ("continue", "incomplete"):
            return (
                f"ALERT ({observation.action.replace('_', ' ')}): acknowledge it with the "
                "action taken." + (f" Round incomplete: record {missing}." if missing else "")
            )
        if missing:
            return f"ALERT (incomplete round): record {missing} as soon as you can."
        return "Observation recorded."

    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_record_observation(
            actor_of(request), session.pk, f.version, f.to_input()
        ),
        title="Record an observation",
        template="infusions/observe.html",
        success=success,
    )


@allow_roles(ROLES.acknowledge_alert)
@require_http_methods(["GET", "POST"])
def acknowledge(request: HttpRequest, session_id: int, alert_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "acknowledge"})
    alert = get_child_for(actor_of(request), session, Alert, alert_id)
    form = AcknowledgeForm(
        request.POST or None, session=session, not_before=services.last_event_at(session)
    )
    running = RateSegment.objects.filter(session=session, ended_at__isnull=True).first()
    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_acknowledge_alert(
            actor_of(request), session.pk, f.version, alert.pk, f.to_input()
        ),
        title="Acknowledge the alert",
        template="infusions/acknowledge.html",
        success="Alert acknowledged.",
        extra={"alert": alert, "running": running},
        submit="Acknowledge",
    )


@allow_roles(ROLES.record_adverse_event)
@require_http_methods(["GET", "POST"])
def adverse_event(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "adverse_event"})
    form = AdverseEventForm(request.POST or None, session=session)

    def success(event: Any) -> str:
        if event.serious:
            due = timezone.localtime(event.report_due_at)
            return f"Serious adverse event recorded: report it by {due:%Y-%m-%d %H:%M}."
        return "Adverse event recorded."

    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_record_adverse_event(
            actor_of(request), session.pk, f.version, f.to_input()
        ),
        title="Record an adverse event",
        success=success,
    )


@allow_roles(ROLES.list_serious_events)
@require_safe
def serious_events(request: HttpRequest) -> HttpResponse:
    events = list(
        AdverseEvent.objects.filter(serious=True)
        .select_related("session__patient", "recorded_by", "reported_by")
        .order_by("report_due_at")[:200]
    )
    audit(
        actor_of(request),
        category=INFUSION_CATEGORY,
        action=Action.VIEW,
        detail={"report": "serious_events", "adverse_event_ids": [e.pk for e in events]},
    )
    return render(
        request,
        "infusions/serious_events.html",
        {
            "events": events,
            "now": timezone.now(),
            "can_open": acting_user(request).role in ROLES.view_chart,
            "can_report": acting_user(request).role in ROLES.mark_adverse_event_reported,
        },
    )


# --- discharge and note ---------------------------------------------------------------------


@allow_roles(ROLES.discharge)
@require_http_methods(["GET", "POST"])
def discharge(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "discharge"})
    checklist_row = getattr(session, "checklist", None)
    initial = (
        {"escort_name": checklist_row.escort_name, "escort_phone": checklist_row.escort_phone}
        if checklist_row
        else {}
    )
    form = DischargeForm(
        request.POST or None,
        session=session,
        not_before=services.last_event_at(session),
        initial=initial,
    )

    status = recovery.discharge_status(session, timezone.now())
    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_discharge(actor_of(request), session.pk, f.version, f.to_input()),
        title="Discharge",
        success=lambda dis: (
            f"Discharged with {dis.escort_name} (Aldrete {dis.aldrete_score}/10, "
            f"PADSS {dis.padss_score}/10)."
        ),
        template="infusions/discharge.html",
        extra={
            "still_missing": recovery.still_missing(status, include_form=False),
            "padss_vital_signs": status.padss_vital_signs,
            "padss_vital_label": PADSS_ITEMS["vital_signs"].get(status.padss_vital_signs or -1),
        },
        submit="Discharge",
    )


@allow_roles(ROLES.save_note)
@require_http_methods(["GET", "POST"])
def note(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "note"})
    existing = SessionNote.objects.filter(session=session).select_related("signed_by").first()
    chart = build_chart(session) if existing is None or not existing.signed else None
    summary = ""
    if existing is None and chart is not None:
        # Every charted event, not only the chart's latest: each late entry is in the summary.
        summary = summary_text(chart, list(SessionEvent.objects.filter(session=session)))
    initial = {"text": existing.text if existing else summary}
    form = NoteForm(request.POST or None, session=session, initial=initial)
    status = 200
    locked_message = ""
    if request.method == "POST":
        if existing is not None and existing.signed:
            try:
                services.do_save_note(
                    actor_of(request),
                    session.pk,
                    session.version,
                    NoteInput(text=request.POST.get("text", "")),
                )
            except NoteLocked as error:
                locked_message = error.message
                status = 409
        elif form.is_valid():
            sign = "sign" in request.POST
            try:
                services.do_save_note(
                    actor_of(request), session.pk, form.version, form.to_input(sign=sign)
                )
            except SessionConflict as error:
                return _conflict(request, session, error)
            except Refused as error:
                form.refuse(error)
            else:
                messages.success(request, "Note signed and locked." if sign else "Draft saved.")
                return redirect("infusions:note", session_id=session.pk)
    amendments = list(existing.amendments.select_related("signed_by")) if existing else []
    context = {
        "session": session,
        "banner": banner_for(session),
        "note": existing,
        "form": form,
        "amendments": amendments,
        "amend_form": AmendmentForm(session=session) if existing and existing.signed else None,
        "can_sign": session.status in (SessionStatus.STOPPED, SessionStatus.DISCHARGED),
        "locked_message": locked_message,
    }
    return render(request, "infusions/note.html", context, status=status)


@allow_roles(ROLES.amend_note)
@require_http_methods(["GET", "POST"])
def amend(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "amend"})
    form = AmendmentForm(request.POST or None, session=session)
    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_amend_note(actor_of(request), session.pk, f.version, f.to_input()),
        title="Amend the signed note",
        success="Amendment signed; the original note is kept as it was.",
        submit="Sign the amendment",
    )


# --- waste of the remainder, cancellation ---------------------------------------------------


@allow_roles(ROLES.waste_remainder)
@require_http_methods(["GET", "POST"])
def waste_remainder(request: HttpRequest, session_id: int) -> HttpResponse:
    """The chart's waste step: the witness signs the waste of the computed remainder."""
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "waste"})
    form = WasteRemainderForm(
        request.POST or None, session=session, user_id=acting_user(request).pk
    )
    due = waste_due(session) if session.status in services.WASTE_STATUSES else None
    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_waste_remainder(
            actor_of(request), session.pk, f.version, f.to_input()
        ),
        title="Waste the remainder (witnessed)",
        template="infusions/waste.html",
        success=lambda entry: (
            f"{fmt(entry.amount_mg, 'mg')} wasted, witnessed by {entry.witness.display_name}."
        ),
        extra={"waste": due},
        submit="Record the witnessed waste",
    )


def _needs_witness(session: InfusionSession) -> WasteDue | None:
    due = waste_due(session, delivered=Decimal(0))
    return due if due is not None and due.outstanding else None


@allow_roles(ROLES.cancel_session)
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_session_for(actor_of(request), session_id, detail={"purpose": "cancel"})
    due = _needs_witness(session)
    form = CancelSessionForm(
        request.POST or None,
        session=session,
        user_id=acting_user(request).pk,
        needs_witness=due is not None,
    )
    return _form_page(
        request,
        session,
        form,
        lambda f: services.do_cancel_session(
            actor_of(request), session.pk, f.version, f.to_input()
        ),
        title="Cancel the session",
        template="infusions/cancel.html",
        success="Session cancelled; the booking is cancelled and the chair is free.",
        extra={
            "waste": due,
            "cancellable": session.status in services.CANCELLABLE_STATUSES,
        },
        submit="Cancel the session",
    )


# --- serious adverse events: the 24-hour report ---------------------------------------------


@allow_roles(ROLES.list_serious_events_to_report)
@require_safe
def serious_events_to_report(request: HttpRequest) -> HttpResponse:
    """Serious adverse events not yet marked reported: overdue first, then by deadline."""
    now = timezone.now()
    events = list(
        AdverseEvent.objects.filter(serious=True, reported_at__isnull=True)
        .select_related("session__patient", "recorded_by")
        .order_by("report_due_at", "id")[:200]
    )
    # Deadlines ascending already put the overdue ones (past deadlines) first.
    audit(
        actor_of(request),
        category=INFUSION_CATEGORY,
        action=Action.VIEW,
        detail={"report": "serious_events_to_report", "adverse_event_ids": [e.pk for e in events]},
    )
    rows = [(e, _report_state(e, now)) for e in events]
    return render(
        request,
        "infusions/serious_events_to_report.html",
        {"rows": rows, "overdue": sum(1 for _, state in rows if state == "overdue")},
    )


@allow_roles(ROLES.mark_adverse_event_reported)
@require_http_methods(["GET", "POST"])
def mark_reported(request: HttpRequest, event_id: int) -> HttpResponse:
    event = read_for(
        actor_of(request),
        AdverseEvent.objects.select_related("session__patient", "recorded_by", "reported_by"),
        event_id,
        category=INFUSION_CATEGORY,
        patient_of=lambda row: row.session.patient,
        detail={"purpose": "mark reported"},
    )
    form = ReportedForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.do_mark_adverse_event_reported(
                actor_of(request), event.pk, form.cleaned_data["reference"]
            )
        except Refused as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            status = 409 if event.reported_at is not None else 200
        else:
            messages.success(request, "Marked reported.")
            return redirect("infusions:serious_events_to_report")
    context = {
        "event": event,
        "state": _report_state(event, timezone.now()),
        "form": form,
        "can_open": acting_user(request).role in ROLES.view_chart,
    }
    return render(request, "infusions/mark_reported.html", context, status=status)


__all__ = [
    "acknowledge",
    "adverse_event",
    "amend",
    "cancel",
    "checklist",
    "discharge",
    "double_check",
    "mark_reported",
    "note",
    "observe",
    "open_session",
    "open_session_off_day",
    "pause",
    "prepare",
    "rate_change",
    "resume",
    "serious_events",
    "serious_events_to_report",
    "session_chart",
    "start",
    "stop",
    "waste_remainder",
]
