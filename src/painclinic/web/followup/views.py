"""The follow-up questionnaire pages: one question per screen, a review, a confirmation.

Three ways in, one set of screens:

* a signed-in patient from the portal (answers through the ``portal`` channel);
* a nurse or physician entering answers given by phone (``phone``), marked on every screen;
* a visitor who opened a single-use link from a reminder (``/f/<token>/``): not signed in, they
  act as the patient's portal user, through the ``link`` channel, for that one time point only
  (its id, the link's id and the user's id are kept in the session; every page checks them and
  that the link still works).

Each answer is saved as it is given (``do_save_answer``), so a dropped connection loses nothing
already answered; the forms are plain POSTs that work without JavaScript, and htmx (when it
loads) swaps the next screen in without a page reload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.clinical.escalation import FollowUpAnswers, evaluate, load_escalation_policy
from painclinic.clinical.followup import ANSWERABLE, WINDOW_LABELS, window_state
from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.permissions import allow_roles, public
from painclinic.web.accounts.services import system_user
from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.followup.models import (
    AnswerChannel,
    FollowUpResponse,
    FollowUpTimePoint,
    ResponseStatus,
)
from painclinic.web.followup.questions import Question, questions_for, title_of
from painclinic.web.followup.roles import ROLES
from painclinic.web.followup.services import (
    LINK_GONE,
    do_open_link,
    do_save_answer,
    do_submit_through_link,
    do_submit_time_point,
    link_still_works,
    scheduled_of,
)
from painclinic.web.lib.clinictime import to_local
from painclinic.web.lib.http import actor_of, client_ip
from painclinic.web.lib.service import Actor, Channel, Refused
from painclinic.web.patients.access import get_patient_for, read_for

LINK_SESSION = "followup_link"
DONE_SESSION = "followup_done"


@dataclass(frozen=True)
class Way:
    """How this person reached the questionnaire: who acts, through what, and the page URLs."""

    actor: Actor
    channel: str
    point: FollowUpTimePoint
    question_url: Callable[[int], str]
    review_url: str
    done_url: str
    link_id: int | None = None

    @property
    def by_staff(self) -> bool:
        return self.channel in (AnswerChannel.PHONE, AnswerChannel.CLINIC)


def _answers(point: FollowUpTimePoint) -> dict[str, dict[str, Any]]:
    return {
        r.instrument: dict(r.answers)
        for r in FollowUpResponse.objects.filter(time_point=point).only("instrument", "answers")
    }


def _first_open(questions: list[Question], answers: dict[str, dict[str, Any]]) -> int:
    for q in questions:
        if q.key not in answers.get(q.instrument, {}):
            return q.number
    return len(questions) + 1


def _can_answer(point: FollowUpTimePoint) -> bool:
    today = to_local(timezone.now()).date()
    return point.status == "scheduled" and window_state(scheduled_of(point), today) in ANSWERABLE


# --- the ways in --------------------------------------------------------------------------


def _signed_in_way(request: HttpRequest, time_point_id: int) -> Way:
    actor = actor_of(request)
    point = read_for(
        actor,
        FollowUpTimePoint.objects.select_related("patient"),
        time_point_id,
        category=Category.FOLLOWUP,
    )
    channel = AnswerChannel.PORTAL if actor.role == Role.PATIENT else AnswerChannel.PHONE
    return Way(
        actor=actor,
        channel=channel,
        point=point,
        question_url=lambda n: reverse("followup:question", args=[point.pk, n]),
        review_url=reverse("followup:review", args=[point.pk]),
        done_url=reverse("followup:done", args=[point.pk]),
    )


def _gone(request: HttpRequest, reason: str) -> HttpResponse:
    """The one page for a link that does not work (audited; the reason is not shown)."""
    if reason != "opened":  # a refused open is audited by the service itself
        audit(
            actor_of(request),
            category=Category.FOLLOWUP,
            action=Action.ACCESS_DENIED,
            outcome=Outcome.DENIED,
            detail={"event": "questionnaire link page refused", "reason": reason},
        )
    request.session.pop(LINK_SESSION, None)
    return render(request, "followup/link_gone.html", {"message": LINK_GONE})


def _link_way(request: HttpRequest) -> Way | None:
    scope = request.session.get(LINK_SESSION)
    if not isinstance(scope, dict):
        return None
    try:
        link_id, point_id, user_id = int(scope["link"]), int(scope["point"]), int(scope["user"])
    except (KeyError, TypeError, ValueError):
        return None
    if not link_still_works(link_id, point_id, user_id, timezone.now()):
        return None
    user = User.objects.filter(pk=user_id, role=Role.PATIENT).first()
    point = FollowUpTimePoint.objects.select_related("patient").filter(pk=point_id).first()
    if user is None or point is None:
        return None
    actor = Actor(user, Channel.WEB, request.path[:200], client_ip(request))
    return Way(
        actor=actor,
        channel=AnswerChannel.LINK,
        point=point,
        question_url=lambda n: f"{reverse('link:question')}?n={n}",
        review_url=reverse("link:review"),
        done_url=reverse("link:done"),
        link_id=link_id,
    )


# --- the screens (shared) -----------------------------------------------------------------


def _question_screen(request: HttpRequest, way: Way, number: int) -> HttpResponse:
    point = way.point
    questions = questions_for(list(point.instruments))
    if not _can_answer(point):
        if point.status == "completed":
            return redirect(way.done_url)
        return render(request, "followup/closed.html", {"point": point, "way": way})
    if not 1 <= number <= len(questions):
        raise Http404("No such question")
    question = questions[number - 1]
    answers = _answers(point)
    error = ""
    current = answers.get(question.instrument, {}).get(question.key)
    if request.method == "POST":
        skipping = "skip" in request.POST and question.optional
        raw = request.POST.get("answer", "")
        value: Any = None
        if not skipping:
            try:
                value = question.parse(raw)
            except ValueError:
                error = f"Question {number}: choose one answer." + (
                    " Or press “Skip this question”." if question.optional else ""
                )
        if not error:
            try:
                do_save_answer(
                    way.actor, point.pk, question.instrument, question.key, value, way.channel
                )
            except Refused as refused:
                error = f"Question {number}: {refused.message}"
        if not error:
            following = number + 1
            if "back" in request.POST:
                following = max(1, number - 1)
            if following > len(questions) or "review" in request.POST:
                return redirect(way.review_url)
            return redirect(way.question_url(following))
        current = raw
    context = {
        "way": way,
        "point": point,
        "question": question,
        "total": len(questions),
        "percent": round(100 * (number - 1) / len(questions)),
        "current": None if current is None else str(current),
        "error": error,
        "previous_url": way.question_url(number - 1) if number > 1 else "",
        "answered_all": _first_open(questions, answers) > len(questions),
    }
    return render(request, "followup/question.html", context)


def _review_screen(request: HttpRequest, way: Way) -> HttpResponse:
    point = way.point
    if point.status == "completed":
        return redirect(way.done_url)
    if not _can_answer(point):
        return render(request, "followup/closed.html", {"point": point, "way": way})
    questions = questions_for(list(point.instruments))
    answers = _answers(point)
    error = ""
    if request.method == "POST":
        try:
            if way.link_id is not None:
                submitted = do_submit_through_link(way.actor, way.link_id)
            else:
                submitted = do_submit_time_point(way.actor, point.pk, way.channel)
        except Refused as refused:
            error = refused.message
            if refused.field and refused.field in point.instruments:
                error = f"{title_of(refused.field)}: {refused.message.split(': ', 1)[-1]}"
        else:
            request.session[DONE_SESSION] = {
                "point": point.pk,
                "crisis": submitted.crisis,
                "reasons": list(submitted.crisis_reasons),
                "notices": list(submitted.notices),
            }
            if way.link_id is not None:
                request.session.pop(LINK_SESSION, None)
            return redirect(way.done_url)
    rows = []
    for q in questions:
        given = answers.get(q.instrument, {})
        rows.append(
            {
                "question": q,
                "answered": q.key in given and given[q.key] is not None,
                "skipped": q.key in given and given[q.key] is None,
                "label": q.label_of(given.get(q.key)),
                "missing": not q.optional and given.get(q.key) is None,
                "url": way.question_url(q.number),
            }
        )
    context = {
        "way": way,
        "point": point,
        "rows": rows,
        "missing": sum(1 for r in rows if r["missing"]),
        "error": error,
    }
    return render(request, "followup/review.html", context)


def _done_screen(request: HttpRequest, point: FollowUpTimePoint, by_staff: bool) -> HttpResponse:
    """The confirmation: crisis resources first when the answers call for them.

    The submission's own finding (kept in the session when it was submitted) decides; a
    confirmation opened later in another session evaluates the clinic's escalation rules again
    on the saved PHQ-9 answers.
    """
    done = request.session.get(DONE_SESSION)
    reasons: list[str] = []
    notices: list[str] = []
    if isinstance(done, dict) and done.get("point") == point.pk:
        crisis = bool(done.get("crisis"))
        reasons = [str(r) for r in done.get("reasons", [])]
        notices = [str(n) for n in done.get("notices", [])]
    else:
        response = FollowUpResponse.objects.filter(
            time_point=point, instrument="phq9", status=ResponseStatus.SUBMITTED
        ).first()
        items = tuple(int(response.answers[f"items[{i}]"]) for i in range(9)) if response else None
        crisis = (
            items is not None
            and evaluate(FollowUpAnswers(phq9_items=items), load_escalation_policy()).crisis
        )
    submitted = SimpleNamespace(
        crisis=crisis,
        crisis_reasons=reasons,
        crisis_resources=load_escalation_policy().crisis_resources if crisis else (),
    )
    context = {
        "point": point,
        "crisis": crisis,
        "crisis_template": "followup/_crisis.html",
        "submitted": submitted,
        "notices": notices,
        "by_staff": by_staff,
    }
    return render(request, "followup/done.html", context)


# --- signed in: the patient, or staff entering answers by phone ------------------------------


@allow_roles(ROLES.answer_pages)
@require_http_methods(["GET", "HEAD", "POST"])
def question(request: HttpRequest, time_point_id: int, number: int) -> HttpResponse:
    return _question_screen(request, _signed_in_way(request, time_point_id), number)


@allow_roles(ROLES.answer_pages)
@require_safe
def start(request: HttpRequest, time_point_id: int) -> HttpResponse:
    """The first question not yet answered (or the review when all are)."""
    way = _signed_in_way(request, time_point_id)
    questions = questions_for(list(way.point.instruments))
    first = _first_open(questions, _answers(way.point))
    return redirect(way.question_url(first) if first <= len(questions) else way.review_url)


@allow_roles(ROLES.answer_pages)
@require_http_methods(["GET", "HEAD", "POST"])
def review(request: HttpRequest, time_point_id: int) -> HttpResponse:
    return _review_screen(request, _signed_in_way(request, time_point_id))


@allow_roles(ROLES.answer_pages)
@require_safe
def done(request: HttpRequest, time_point_id: int) -> HttpResponse:
    way = _signed_in_way(request, time_point_id)
    if way.point.status != "completed":
        return redirect(reverse("followup:start", args=[way.point.pk]))
    return _done_screen(request, way.point, way.by_staff)


@allow_roles(ROLES.view_followup)
@require_safe
def patient_followup(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A patient's follow-up for staff: time points, windows, reminders, who answered how."""
    actor = actor_of(request)
    patient = get_patient_for(actor, patient_id, category=Category.FOLLOWUP)
    today = to_local(timezone.now()).date()
    points = list(
        FollowUpTimePoint.objects.filter(patient=patient)
        .prefetch_related("reminders", "responses")
        .order_by("due_on", "id")
    )
    rows = []
    for point in points:
        state = window_state(scheduled_of(point), today)
        if point.status == "completed":
            state_label = "Completed"
        elif point.status == "cancelled":
            state_label = "Cancelled (series cancelled)"
        else:
            state_label = WINDOW_LABELS[state]
        responses = sorted(
            point.responses.all(),
            key=lambda r: (
                list(point.instruments).index(r.instrument)
                if r.instrument in point.instruments
                else 99
            ),
        )
        rows.append(
            {
                "point": point,
                "state": state_label,
                "answerable": point.status == "scheduled" and state in ANSWERABLE,
                "reminders": list(point.reminders.all()),
                "responses": [
                    {
                        "title": title_of(r.instrument),
                        "status": r.get_status_display(),
                        "channel": r.get_channel_display(),
                        "by_staff": r.channel in (AnswerChannel.PHONE, AnswerChannel.CLINIC),
                        "entered_by": r.entered_by,
                        "score": r.score,
                    }
                    for r in responses
                ],
                "instruments": [title_of(i) for i in point.instruments],
            }
        )
    return render(request, "followup/patient.html", {"patient": patient, "rows": rows})


# --- the single-use link (no sign-in) ------------------------------------------------------


@public
@require_safe
def link_open(request: HttpRequest, token: str) -> HttpResponse:
    """Open a reminder's link: check it as the system user, then keep its scope in the session."""
    actor = Actor(system_user(), Channel.WEB, "questionnaire link", client_ip(request))
    try:
        opened = do_open_link(actor, token)
    except Refused:
        return _gone(request, "opened")
    request.session.cycle_key()
    request.session.pop(DONE_SESSION, None)
    request.session[LINK_SESSION] = {
        "link": opened.link_id,
        "point": opened.time_point_id,
        "user": opened.user_id,
    }
    point = FollowUpTimePoint.objects.get(pk=opened.time_point_id)
    questions = questions_for(list(point.instruments))
    first = _first_open(questions, _answers(point))
    if first > len(questions):
        return redirect(reverse("link:review"))
    return redirect(f"{reverse('link:question')}?n={first}")


@public
@require_http_methods(["GET", "HEAD", "POST"])
def link_question(request: HttpRequest) -> HttpResponse:
    """One question of the link's time point (``?n=3``: its number; no record id here)."""
    raw = request.GET.get("n", "1")
    number = int(raw) if raw.isdigit() and len(raw) < 4 else 0
    way = _link_way(request)
    if way is None:
        return _gone(request, "no working link in this session")
    return _question_screen(request, way, number)


@public
@require_http_methods(["GET", "HEAD", "POST"])
def link_review(request: HttpRequest) -> HttpResponse:
    way = _link_way(request)
    if way is None:
        return _gone(request, "no working link in this session")
    return _review_screen(request, way)


@public
@require_safe
def link_done(request: HttpRequest) -> HttpResponse:
    done = request.session.get(DONE_SESSION)
    if not isinstance(done, dict) or "point" not in done:
        return _gone(request, "no submission in this session")
    point = FollowUpTimePoint.objects.filter(pk=done["point"]).first()
    if point is None:
        return _gone(request, "no submission in this session")
    return _done_screen(request, point, by_staff=False)
