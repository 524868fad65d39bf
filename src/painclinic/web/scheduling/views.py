from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.services import Action, audit
from painclinic.web.infusions.roles import ROLES as INFUSION_ROLES
from painclinic.web.lib.clinictime import local_today, to_local
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.patients.access import get_patient_for, read_for
from painclinic.web.patients.models import Patient
from painclinic.web.patients.services import latest_weight
from painclinic.web.scheduling.board import build_board, grid_html, planned_rates
from painclinic.web.scheduling.forms import (
    CancelForm,
    ChairForm,
    ClosureForm,
    RescheduleForm,
    SeriesForm,
)
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair, ClinicClosure
from painclinic.web.scheduling.roles import ROLES
from painclinic.web.scheduling.services import (
    CATEGORY,
    OCCUPYING,
    STARTED_SESSION_STATUSES,
    WEEKDAYS,
    BookingEditConflict,
    SchedulingError,
    bookings_outside_hours,
    cancelled_on,
    do_add_closure,
    do_book_series,
    do_cancel_booking,
    do_reopen,
    do_reschedule_booking,
    do_save_chair,
    do_set_chair_active,
    infusion_session_of,
    open_weekdays,
    propose_series,
    unbooked_sessions,
    with_active_hours,
)
from painclinic.web.treatments.coverage import consent_coverage, plan_consent_coverage
from painclinic.web.treatments.models import PlanStatus, TreatmentPlan

BOARD_RANGE_DAYS = 3660


def _put_problems(form: Any, error: SchedulingError) -> None:
    for problem in error.problems:
        target = problem.field if problem.field in form.fields else None
        form.add_error(target, problem.message)


def _patient_context(patient: Patient) -> dict[str, Any]:
    return {"patient": patient, "weight": latest_weight(patient)}


# --- board ------------------------------------------------------------------------------------


@allow_roles(ROLES.view_board)
@require_safe
def board(request: HttpRequest) -> HttpResponse:
    return render(request, "scheduling/board.html", _board_context(request))


@allow_roles(ROLES.view_board)
@require_safe
def board_grid(request: HttpRequest) -> HttpResponse:
    """The board's table alone: today's board polls it every minute and swaps it in place."""
    response = render(request, "scheduling/_board_grid.html", _board_context(request))
    response["X-Board-Grid"] = "1"
    return response


def _board_context(request: HttpRequest) -> dict[str, Any]:
    today = local_today()
    raw = request.GET.get("date", "")
    try:
        day = dt.date.fromisoformat(raw) if raw else today
    except ValueError:
        messages.error(request, f"{raw!r} is not a date (YYYY-MM-DD); showing today.")
        day = today
    if abs((day - today).days) > BOARD_RANGE_DAYS:
        messages.error(request, "That date is too far from today; showing today.")
        day = today
    result = build_board(day)
    role = acting_user(request).role
    cancelled = cancelled_on(day)
    closure = ClinicClosure.objects.filter(active=True, date=day).first()
    audit(
        actor_of(request),
        category=CATEGORY,
        action=Action.VIEW,
        detail={
            "board": day.isoformat(),
            "patient_ids": sorted({*result.patient_ids, *(b.patient_id for b in cancelled)}),
        },
    )
    context = {
        "board": result,
        "cancelled": cancelled,
        "closure": closure,
        "day": day,
        "today": today,
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        # The chart links follow the infusions app's own rules (read a chart, open one).
        "grid_rows": grid_html(
            result,
            can_view_chart=role in INFUSION_ROLES.view_chart,
            can_open_chart=role in INFUSION_ROLES.open_session,
            csrf_token=get_token(request),
        ),
        "can_book": role in ROLES.book_series,
        "can_view_chart": role in INFUSION_ROLES.view_chart,
    }
    return context


# --- chairs -----------------------------------------------------------------------------------


def _chair_initial(chair: Chair) -> dict[str, Any]:
    initial: dict[str, Any] = {"name": chair.name, "location": chair.location}
    for hours in chair.opening_hours.filter(active=True):
        initial[f"opens_{hours.weekday}"] = hours.opens
        initial[f"closes_{hours.weekday}"] = hours.closes
    return initial


@allow_roles(ROLES.view_chairs)
@require_http_methods(["GET", "POST"])
def chairs(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "") if request.method == "POST" else ""
    closure_form = ClosureForm(request.POST if action == "close" else None)
    if action == "reopen":
        do_reopen(actor_of(request), int(request.POST.get("closure_id", "0") or 0))
        messages.success(request, "The clinic is open again on that day.")
        return redirect("scheduling:chairs")
    if action == "close" and closure_form.is_valid():
        try:
            do_add_closure(
                actor_of(request),
                day=closure_form.cleaned_data["date"],
                reason=closure_form.cleaned_data["reason"],
            )
        except SchedulingError as error:
            _put_problems(closure_form, error)
        else:
            messages.success(request, "Closure added.")
            return redirect("scheduling:chairs")
    form = ChairForm(request.POST if request.method == "POST" and not action else None)
    if request.method == "POST" and not action and form.is_valid():
        try:
            chair = do_save_chair(
                actor_of(request),
                None,
                name=form.cleaned_data["name"],
                location=form.cleaned_data["location"],
                hours=form.cleaned_data["hours"],
            )
        except SchedulingError as error:
            _put_problems(form, error)
        else:
            messages.success(request, f"{chair.name} added.")
            return redirect("scheduling:chairs")
    all_chairs = list(with_active_hours(Chair.objects.order_by("-active", "name")))
    rows = [
        {
            "chair": c,
            "hours": [
                (WEEKDAYS[h.weekday][:3], h.opens, h.closes)
                for h in sorted(c.active_hours, key=lambda h: h.weekday)  # type: ignore[attr-defined]
            ],
        }
        for c in all_chairs
    ]
    stranded = bookings_outside_hours(all_chairs, dt.datetime.now(dt.UTC))
    closures = ClinicClosure.objects.filter(active=True, date__gte=local_today())[:40]
    context = {
        "form": form,
        "rows": rows,
        "stranded": stranded,
        "closure_form": closure_form,
        "closures": closures,
    }
    return render(request, "scheduling/chairs.html", context)


@allow_roles(ROLES.save_chair)
@require_http_methods(["GET", "POST"])
def chair_edit(request: HttpRequest, chair_id: int) -> HttpResponse:
    chair = Chair.objects.filter(pk=chair_id).first()
    if chair is None:
        raise Http404("No such chair")
    if request.method == "POST" and request.POST.get("action") in ("deactivate", "activate"):
        active = request.POST["action"] == "activate"
        do_set_chair_active(actor_of(request), chair.pk, active=active)
        messages.success(
            request, f"{chair.name} is {'back in service' if active else 'out of service'}."
        )
        return redirect("scheduling:chairs")
    form = ChairForm(request.POST or None, initial=_chair_initial(chair))
    if request.method == "POST" and form.is_valid():
        try:
            do_save_chair(
                actor_of(request),
                chair.pk,
                name=form.cleaned_data["name"],
                location=form.cleaned_data["location"],
                hours=form.cleaned_data["hours"],
            )
        except SchedulingError as error:
            _put_problems(form, error)
        else:
            messages.success(request, "Chair saved.")
            return redirect("scheduling:chairs")
    return render(request, "scheduling/chair_form.html", {"form": form, "chair": chair})


# --- a patient's bookings and series ----------------------------------------------------------


@allow_roles(ROLES.view_patient_bookings)
@require_safe
def patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    record = get_patient_for(actor_of(request), patient_id, category=CATEGORY)
    bookings = list(
        Booking.objects.filter(patient=record)
        .select_related("chair", "plan", "planned_session", "infusion_session")
        .order_by("-starts_at")[:200]
    )
    plans = list(
        TreatmentPlan.objects.filter(patient=record, status=PlanStatus.ACTIVE).prefetch_related(
            "sessions"
        )
    )
    booked_numbers: dict[int, set[int]] = {}
    for b in bookings:
        if b.plan_id and b.planned_session and b.status in OCCUPYING:
            booked_numbers.setdefault(b.plan_id, set()).add(b.planned_session.number)
    to_book: dict[int, int] = {}
    for plan in plans:
        # Only the sessions the consent in force covers are offered; the others are listed.
        coverage = consent_coverage(record, plan.drug, plan.protocol_id, len(plan.sessions.all()))
        plan.coverage = coverage  # type: ignore[attr-defined]
        booked = booked_numbers.get(plan.pk, set())
        to_book[plan.pk] = sum(
            1 for s in plan.sessions.all() if s.number not in booked and coverage.covers(s.number)
        )
    context = {
        **_patient_context(record),
        "bookings": bookings,
        "plans": plans,
        "to_book": to_book,
        "can_book": acting_user(request).role in ROLES.book_series,
        "now": dt.datetime.now(dt.UTC),
    }
    return render(request, "scheduling/patient.html", context)


def _first_open_day(chair: Chair | None) -> dt.date:
    day = local_today() + dt.timedelta(days=1)
    weekdays = open_weekdays(chair) if chair else set(range(5))
    for _ in range(14):
        if day.weekday() in weekdays:
            break
        day += dt.timedelta(days=1)
    return day


@allow_roles(ROLES.book_series)
@require_http_methods(["GET", "POST"])
def book_series(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = read_for(
        actor_of(request),
        TreatmentPlan.objects.select_related("patient"),
        plan_id,
        category=CATEGORY,
        detail={"purpose": "book"},
    )
    record = plan.patient
    sessions = list(plan.sessions.order_by("number"))
    first_chair = Chair.objects.filter(active=True).order_by("name").first()
    form = SeriesForm(
        request.POST or None,
        initial={
            "date": _first_open_day(first_chair),
            "start_time": dt.time(9, 0),
            "chair": first_chair,
        },
    )
    proposal = None
    refused = None
    coverage = plan_consent_coverage(plan)
    unbooked = unbooked_sessions(plan)
    beyond_consent = [s for s in unbooked if not coverage.covers(s.number)]
    if plan.status != PlanStatus.ACTIVE:
        refused = (
            f"This plan is {plan.get_status_display().lower()}: only an active plan can be booked."
        )
    elif beyond_consent and len(beyond_consent) == len(unbooked):
        refused = coverage.refusal(beyond_consent[0].number)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("action") == "book":
            try:
                bookings = do_book_series(
                    actor_of(request),
                    plan.pk,
                    chair_id=data["chair"].pk,
                    first_date=data["date"],
                    start_time=data["start_time"],
                )
            except SchedulingError as error:
                _put_problems(form, error)
            else:
                messages.success(request, f"{len(bookings)} sessions booked.")
                return redirect("scheduling:patient", patient_id=record.pk)
        else:
            try:
                proposal = propose_series(plan, data["chair"], data["date"], data["start_time"])
            except SchedulingError as error:
                _put_problems(form, error)
    context = {
        **_patient_context(record),
        "plan": plan,
        "sessions": sessions,
        "rate": planned_rates(sessions[0].steps) if sessions else "",
        "form": form,
        "proposal": proposal,
        "proposal_ok": proposal is not None and not any(s.problems for s in proposal),
        "refused": refused,
        "coverage": coverage,
        "beyond_consent": beyond_consent,
    }
    return render(request, "scheduling/book_series.html", context)


# --- one booking ------------------------------------------------------------------------------


def _booking_for(request: HttpRequest, booking_id: int) -> Booking:
    return read_for(
        actor_of(request),
        Booking.objects.select_related(
            "patient", "chair", "plan", "planned_session", "booked_by", "rescheduled_from"
        ),
        booking_id,
        category=CATEGORY,
    )


@allow_roles(ROLES.view_booking)
@require_http_methods(["GET", "POST"])
def booking(request: HttpRequest, booking_id: int) -> HttpResponse:
    current = _booking_for(request, booking_id)
    role = acting_user(request).role
    can_change = role in ROLES.reschedule_booking or role in ROLES.cancel_booking
    action = request.POST.get("action") if request.method == "POST" else None
    if action and not can_change:
        raise PermissionDenied("only the front desk changes bookings")
    version = {"expected_version": current.version}
    local_start = to_local(current.starts_at)
    reschedule_form = RescheduleForm(
        request.POST if action == "reschedule" else None,
        initial={
            **version,
            "date": local_start.date(),
            "start_time": local_start.time(),
            "chair": current.chair,
        },
    )
    cancel_form = CancelForm(request.POST if action == "cancel" else None, initial=version)
    conflict = None
    try:
        if action == "reschedule" and reschedule_form.is_valid():
            data = reschedule_form.cleaned_data
            try:
                new = do_reschedule_booking(
                    actor_of(request),
                    current.pk,
                    expected_version=data["expected_version"],
                    chair_id=data["chair"].pk,
                    day=data["date"],
                    start_time=data["start_time"],
                )
            except SchedulingError as error:
                _put_problems(reschedule_form, error)
            else:
                messages.success(request, "Booking moved; the original is kept as cancelled.")
                return redirect("scheduling:booking", booking_id=new.pk)
        elif action == "cancel" and cancel_form.is_valid():
            data = cancel_form.cleaned_data
            try:
                do_cancel_booking(
                    actor_of(request),
                    current.pk,
                    expected_version=data["expected_version"],
                    reason=data["reason"],
                )
            except SchedulingError as error:
                _put_problems(cancel_form, error)
            else:
                messages.success(request, "Booking cancelled.")
                return redirect("scheduling:booking", booking_id=current.pk)
    except BookingEditConflict as error:
        conflict = error.current
    session = infusion_session_of(current)
    history: list[Booking] = []
    earlier = current.rescheduled_from
    while earlier is not None and len(history) < 20:
        history.append(earlier)
        earlier = earlier.rescheduled_from
    later = Booking.objects.filter(rescheduled_from=current).first()
    context = {
        **_patient_context(current.patient),
        "booking": current,
        "session": session,
        "session_total": current.plan.sessions.count() if current.plan else None,
        "rate": planned_rates(current.planned_session.steps) if current.planned_session else "",
        "history": history,
        "later": later,
        "can_change": can_change
        and current.status == BookingStatus.BOOKED
        and (session is None or session.status == "cancelled"),
        "started": session is not None and session.status in STARTED_SESSION_STATUSES,
        "chart_open": session is not None
        and session.status not in STARTED_SESSION_STATUSES
        and session.status != "cancelled",
        # A booking of another day: a physician may open its chart now, with the reason.
        "can_open_off_day": role in INFUSION_ROLES.open_session_off_day
        and session is None
        and current.status == BookingStatus.BOOKED
        and local_start.date() != local_today(),
        "reschedule_form": reschedule_form,
        "cancel_form": cancel_form,
        "conflict": conflict,
    }
    return render(
        request, "scheduling/booking.html", context, status=409 if conflict is not None else 200
    )
