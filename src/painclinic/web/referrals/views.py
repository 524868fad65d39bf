"""Referral pages: the two public forms (no sign-in) and the staff triage queue.

The public forms show no personal data and never say whether a patient is already known: every
accepted submission (and one caught by the honeypot) ends on the same thank-you page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.web.accounts.permissions import allow_roles, public
from painclinic.web.accounts.services import system_user
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.http import actor_of, client_ip
from painclinic.web.lib.service import Actor, Channel, Refused
from painclinic.web.referrals import letters
from painclinic.web.referrals.access import get_referral_for
from painclinic.web.referrals.forms import (
    PRESCREEN_LABELS,
    AcceptForm,
    DeclineForm,
    DuplicateForm,
    LinkForm,
    PhysicianReferralForm,
    SelfReferralForm,
)
from painclinic.web.referrals.models import Answer, AttemptOutcome, Kind, Referral, Status
from painclinic.web.referrals.roles import ROLES
from painclinic.web.referrals.services import (
    QUEUE_LIMIT,
    AlreadyTriaged,
    do_accept_referral,
    do_decline_referral,
    do_link_referral,
    do_mark_duplicate,
    do_note_attempt,
    do_submit_referral,
    hash_address,
    over_rate_limit,
    possible_duplicates,
    recently_triaged,
    waiting_referrals,
)
from painclinic.web.referrals.uploads import upload_too_large

FORM_URL: dict[str, str] = {
    Kind.PHYSICIAN: "referrals:physician_form",
    Kind.SELF: "referrals:self_form",
}
THANKS_URL: dict[str, str] = {
    Kind.PHYSICIAN: "referrals:physician_thanks",
    Kind.SELF: "referrals:self_thanks",
}


def call_back_days() -> int:
    return int(getattr(settings, "REFERRAL_CALL_BACK_BUSINESS_DAYS", 3))


def _public_actor(request: HttpRequest) -> Actor:
    return Actor(system_user(), Channel.WEB, request.path[:200], client_ip(request))


# --- the public forms ----------------------------------------------------------------------


def _public_form(request: HttpRequest, kind: str) -> HttpResponse:
    form_class = PhysicianReferralForm if kind == Kind.PHYSICIAN else SelfReferralForm
    template = f"referrals/{kind}_form.html"
    context: dict[str, Any] = {"call_back_days": call_back_days()}
    if request.method != "POST":
        return render(request, template, context | {"form": form_class()})
    if over_rate_limit(kind, hash_address(client_ip(request))):
        return render(
            request,
            "referrals/too_many.html",
            context | {"form_url": reverse(FORM_URL[kind])},
            status=429,
        )
    form: PhysicianReferralForm | SelfReferralForm
    if kind == Kind.PHYSICIAN:
        form = PhysicianReferralForm(
            request.POST, request.FILES, upload_too_large=upload_too_large(request)
        )
    else:
        form = SelfReferralForm(request.POST)
    if form.is_trap():
        do_note_attempt(_public_actor(request), kind, AttemptOutcome.TRAP)
        return redirect(THANKS_URL[kind])
    if form.is_valid():
        entry = form.to_entry()
        letter = form.cleaned_data.get("letter")
        try:
            do_submit_referral(_public_actor(request), entry, letter)
        except Refused as refusal:
            form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)
        else:
            return redirect(THANKS_URL[kind])
    else:
        do_note_attempt(_public_actor(request), kind, AttemptOutcome.INVALID)
    # Nothing was stored; everything typed is shown again (a browser cannot re-send a file).
    context |= {"form": form, "file_again": kind == Kind.PHYSICIAN}
    return render(request, template, context, status=400)


@public
@require_http_methods(["GET", "POST"])
def physician_form(request: HttpRequest) -> HttpResponse:
    return _public_form(request, Kind.PHYSICIAN)


@public
@require_http_methods(["GET", "POST"])
def self_form(request: HttpRequest) -> HttpResponse:
    return _public_form(request, Kind.SELF)


@public
@require_safe
def physician_thanks(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "referrals/thanks.html",
        {"kind": Kind.PHYSICIAN, "call_back_days": call_back_days()},
    )


@public
@require_safe
def self_thanks(request: HttpRequest) -> HttpResponse:
    return render(
        request, "referrals/thanks.html", {"kind": Kind.SELF, "call_back_days": call_back_days()}
    )


# --- triage --------------------------------------------------------------------------------


@allow_roles(ROLES.view_referrals)
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    waiting = waiting_referrals()
    return render(
        request,
        "referrals/queue.html",
        {
            "waiting": waiting[:QUEUE_LIMIT],
            "more": len(waiting) > QUEUE_LIMIT,
            "limit": QUEUE_LIMIT,
            "recent": recently_triaged(),
        },
    )


def _prescreen_rows(referral: Referral) -> list[tuple[str, str, bool]]:
    """(question, answer, whether to draw the reader's eye: a yes or a not sure)."""
    labels = dict(Answer.choices)
    rows = []
    for key, question in PRESCREEN_LABELS.items():
        if referral.kind != Kind.SELF:
            break
        answer = referral.prescreen.get(key, "")
        label = str(labels.get(answer, _("not answered")))
        rows.append((str(question), label, answer in (Answer.YES, Answer.UNSURE)))
    return rows


def _matches(actor: Actor, referral: Referral, form: AcceptForm | None) -> list[Any]:
    """Registered patients that may be this person (from the corrected form when valid)."""
    data = form.cleaned_data if form is not None and form.is_valid() else None
    if data:
        found = possible_duplicates(
            data.get("health_card_number") or "",
            data["legal_given_name"],
            data["legal_family_name"],
            data["date_of_birth"],
        )
    else:
        found = possible_duplicates(
            referral.health_card_number,
            referral.given_name,
            referral.family_name,
            referral.date_of_birth,
        )
    if found:
        audit(
            actor,
            category=Category.DEMOGRAPHICS,
            action=Action.SEARCH,
            obj=referral,
            detail={"matches for referral": [p.pk for p in found]},
        )
    return found


@allow_roles(ROLES.view_referrals)
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, referral_id: int) -> HttpResponse:
    actor = actor_of(request)
    referral = get_referral_for(actor, referral_id)
    accept = AcceptForm(initial=AcceptForm.initial_from(referral))
    decline = DeclineForm()
    duplicate = DuplicateForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "accept":
                accept = AcceptForm(request.POST)
                if accept.is_valid():
                    patient = do_accept_referral(
                        actor,
                        referral.pk,
                        accept.to_demographics(),
                        confirmed_different_person=accept.cleaned_data["confirm_different_person"],
                    )
                    messages.success(request, _("%(name)s registered.") % {"name": patient})
                    return redirect("patients:detail", patient_id=patient.pk)
            elif action == "link":
                link = LinkForm(request.POST)
                if link.is_valid():
                    do_link_referral(actor, referral.pk, link.cleaned_data["patient_id"])
                    messages.success(request, _("Referral linked to the registered patient."))
                    return redirect("patients:detail", patient_id=link.cleaned_data["patient_id"])
                messages.error(request, _("Choose a patient to link the referral to."))
            elif action == "decline":
                decline = DeclineForm(request.POST)
                if decline.is_valid():
                    do_decline_referral(actor, referral.pk, decline.cleaned_data["reason"])
                    messages.success(request, _("Referral declined."))
                    return redirect("referrals:queue")
            elif action == "duplicate":
                duplicate = DuplicateForm(request.POST)
                if duplicate.is_valid():
                    do_mark_duplicate(actor, referral.pk, duplicate.cleaned_data["reason"])
                    messages.success(request, _("Referral marked as a duplicate."))
                    return redirect("referrals:queue")
            else:
                messages.error(request, _("Choose what to do with the referral."))
        except AlreadyTriaged as refusal:
            messages.error(request, refusal.message)
            return redirect("referrals:detail", referral_id=referral.pk)
        except Refused as refusal:
            form = {"accept": accept, "decline": decline, "duplicate": duplicate}.get(action)
            if form is not None and refusal.field in form.fields:
                form.add_error(refusal.field, refusal.message)
            else:
                messages.error(request, refusal.message)
        status = 400
    is_new = referral.status == Status.NEW
    context = {
        "referral": referral,
        "is_new": is_new,
        "prescreen": _prescreen_rows(referral),
        "accept": accept,
        "decline": decline,
        "duplicate": duplicate,
        "matches": _matches(actor, referral, accept if accept.is_bound else None) if is_new else [],
        "letter_kb": (referral.letter_size_bytes + 1023) // 1024,
    }
    return render(request, "referrals/detail.html", context, status=status)


@allow_roles(ROLES.view_referrals)
@require_safe
def letter(request: HttpRequest, referral_id: int) -> FileResponse:
    referral = get_referral_for(actor_of(request), referral_id, what="letter")
    path = letters.path_of(referral.letter_file)
    if path is None:
        raise Http404("No letter")
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=referral.letter_original_name or "referral-letter.pdf",
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
