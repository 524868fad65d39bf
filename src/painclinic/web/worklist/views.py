"""The clinicians' worklist: open tasks (urgent first), and one task with its acknowledgement."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.apps import apps as django_apps
from django.contrib import messages
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.web.accounts.models import Role
from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.models import AuditEvent, Category, Outcome
from painclinic.web.audit.services import Action, audit
from painclinic.web.billing.models import DailyClose, Payment
from painclinic.web.billing.services import billable_sessions, overdue_invoices
from painclinic.web.lib.clinictime import local_today, to_local
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.lib.service import Refused
from painclinic.web.patients.access import read_for
from painclinic.web.patients.models import Patient
from painclinic.web.treatments.models import TreatmentPlan
from painclinic.web.worklist import homes
from painclinic.web.worklist.forms import AcknowledgeForm
from painclinic.web.worklist.homes import SHOWN, Item, Section
from painclinic.web.worklist.models import Task, TaskStatus
from painclinic.web.worklist.roles import ROLES
from painclinic.web.worklist.services import (
    CATEGORY,
    can_acknowledge,
    do_acknowledge_task,
    open_tasks,
)

RECENT = 10
# A rule's condition in brackets, as the eligibility engine writes it after its message
# ("... no ECG on file (cardiac_risk_factors and no ECG)"): for the record, not for a reader.
RULE_CONDITION = re.compile(r"\s*\([^()]*\b[a-z0-9]+_[a-z0-9_]+\b[^()]*\)")


def plain(text: str) -> str:
    """A checklist item's text without the rule condition the engine appends to it."""
    return RULE_CONDITION.sub("", text).strip()


def answers_url(patient_id: int) -> str:
    """The patient's follow-up answers page, or their record while that page does not exist."""
    try:
        return reverse("followup:patient", kwargs={"patient_id": patient_id})
    except NoReverseMatch:
        return reverse("patients:detail", kwargs={"patient_id": patient_id})


@allow_roles(ROLES.view_worklist)
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    role = acting_user(request).role
    tasks = list(open_tasks(role)[:200])
    recent = list(
        Task.objects.filter(status=TaskStatus.ACKNOWLEDGED)
        .select_related("patient", "acknowledged_by")
        .order_by("-acknowledged_at", "-id")[:RECENT]
    )
    audit(
        actor_of(request),
        category=CATEGORY,
        action=Action.VIEW,
        detail={
            "report": "worklist",
            "task_ids": [t.pk for t in tasks],
            "patient_ids": sorted({t.patient_id for t in tasks}),
            "acknowledged_task_ids": [t.pk for t in recent],
        },
    )
    rows = [
        {"task": t, "answers_url": answers_url(t.patient_id), "can_ack": can_acknowledge(role, t)}
        for t in tasks
    ]
    context = {
        "rows": rows,
        "recent": recent,
        "urgent_count": sum(1 for t in tasks if t.priority == 0),
    }
    return render(request, "worklist/home.html", context)


@allow_roles(ROLES.view_worklist)
@require_http_methods(["GET", "POST"])
def task(request: HttpRequest, task_id: int) -> HttpResponse:
    actor = actor_of(request)
    record = read_for(
        actor,
        Task.objects.select_related("patient", "assigned_to", "acknowledged_by", "raised_by"),
        task_id,
        category=CATEGORY,
        detail={"report": "worklist task"},
    )
    role = acting_user(request).role
    allowed = record.status == TaskStatus.OPEN and can_acknowledge(role, record)
    form = AcknowledgeForm(request.POST or None)
    if request.method == "POST" and allowed and form.is_valid():
        try:
            do_acknowledge_task(actor, record.pk, form.cleaned_data["action_taken"])
        except Refused as error:
            if error.field in form.fields:
                form.add_error(error.field, error.message)
            else:
                form.add_error(None, error.message)
        else:
            messages.success(request, "Task acknowledged; it is off the worklist.")
            return redirect("worklist:home")
    context = {
        "task": record,
        "form": form,
        "can_ack": allowed,
        "answers_url": answers_url(record.patient_id),
    }
    return render(request, "worklist/task.html", context)


# --- each staff role's home page ---------------------------------------------------------------

HOME_CATEGORY = {
    Role.PHYSICIAN: Category.ELIGIBILITY,
    Role.NURSE: Category.INFUSION,
    Role.FRONT_DESK: Category.SCHEDULING,
    Role.BILLING: Category.BILLING,
    Role.CLINIC_ADMIN: Category.AUDIT,
}
# Money, audit and referrals can be slow to count on a large clinic: their roles' badge is the
# total their home page last counted (kept this long), not a query on every page.
BADGE_CACHE_SECONDS = 300
DAYS_TO_CLOSE = 31


def badge_cache_key(user_id: int) -> str:
    """Where the home page leaves its total for the top bar (read by context.HomeLink)."""
    return f"worklist:home-badge:{user_id}"


def _url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def _first_url(*names: str) -> str:
    """The first of these pages that exists (a part of the app still being built may not)."""
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""


def new_referrals() -> QuerySet[Any] | None:
    """Referrals waiting for triage, or None while the referrals app is not installed."""
    if not django_apps.is_installed("painclinic.web.referrals"):
        return None
    try:
        model = django_apps.get_model("referrals", "Referral")
    except LookupError:
        return None
    return model.objects.filter(status="new")


def _referral_items(referrals: QuerySet[Any]) -> list[Item]:
    """The oldest referrals waiting (urgent ones marked), each opening its triage page."""
    items = []
    for r in referrals.order_by("submitted_at", "id")[:SHOWN]:
        try:
            url = reverse("referrals:detail", args=[r.pk])
        except NoReverseMatch:
            url = ""
        items.append(
            Item(
                text=f"{r.family_name}, {r.given_name}: {r.get_kind_display()}, "
                f"{r.get_condition_display()}",
                url=url,
                when=r.submitted_at,
                note=r.get_urgency_display(),
                urgent=r.urgency != "routine",
                referral_id=r.pk,
            )
        )
    return items


def _referral_section(count: int, referrals: QuerySet[Any]) -> Section:
    url = _first_url("referrals:queue", "referrals:triage", "referrals:list", "referrals:home")
    return Section(
        "referrals",
        "Referrals to triage",
        count,
        _referral_items(referrals),
        more_url=url,
        more_label="Open the triage queue",
        empty="No new referral.",
    )


def _task_items(role: str) -> list[Item]:
    return [
        Item(
            text=t.summary.splitlines()[0] if t.summary else t.get_kind_display(),
            url=reverse("worklist:task", args=[t.pk]),
            patient=t.patient,
            when=t.raised_at,
            note=t.get_urgency_display(),
            urgent=t.priority == 0,
        )
        for t in open_tasks(role).defer("findings")[:SHOWN]
    ]


def _physician_home(user: Any, referrals: QuerySet[Any] | None) -> list[Section]:
    queries: dict[str, QuerySet[Any]] = {
        "plans": homes.plans_to_cosign(user),
        "decisions": homes.decisions_to_cosign(user),
        "to_decide": homes.decisions_to_make(),
        "checklist": homes.open_checklist(),
        "tasks": homes.open_escalations(),
        "sae": homes.serious_events_to_report(),
    }
    if referrals is not None:
        queries["referrals"] = referrals
    n = homes.counts(**queries)
    cosign = [
        Item(
            text=f"{p.get_drug_display()} treatment plan above a dose limit",
            url=_url("treatments:plan_cosign", p.pk),
            patient=p.patient,
            when=p.prescribed_at,
            note=f"prescribed by {p.prescribed_by.display_name}",
        )
        for p in homes.plans_to_cosign(user)
        .select_related("patient", "prescribed_by")
        .defer(*homes.PLAN_HEAVY)
        .order_by("prescribed_at", "id")[:SHOWN]
    ]
    cosign += [
        Item(
            text=f"{d.get_drug_display()} eligibility: a contraindication was overridden",
            url=_url("assessments:cosign_decision", d.patient_id, d.pk),
            patient=d.patient,
            when=d.decided_at,
            note=f"decided by {d.decided_by.display_name}",
        )
        for d in homes.decisions_to_cosign(user)
        .select_related("patient", "decided_by")
        .defer("facts", "engine_result", "policy_versions")
        .order_by("decided_at", "id")[:SHOWN]
    ]
    cosign.sort(key=lambda i: i.when or timezone.now())
    pending = list(homes.decisions_to_make().order_by("latest", "patient")[:SHOWN])
    patients = Patient.objects.in_bulk([row["patient"] for row in pending])
    to_decide = [
        Item(
            text="Diagnostic criteria recorded; no eligibility decision since",
            url=_url("assessments:eligibility", row["patient"]),
            patient=patients.get(row["patient"]),
            when=row["latest"],
        )
        for row in pending
    ]
    checklist = [
        Item(
            text=plain(item.text),
            url=_url("assessments:resolve_item", item.patient_id, item.pk),
            patient=item.patient,
            when=item.created_at,
            note=item.get_drug_display(),
        )
        for item in homes.open_checklist()
        .select_related("patient")
        .order_by("created_at", "id")[:SHOWN]
    ]
    sections = [
        Section(
            "cosign",
            "Co-signatures waiting",
            n["plans"] + n["decisions"],
            cosign[:SHOWN],
            empty="Nothing to co-sign.",
            note="A second physician co-signs; your own plans and decisions are not listed.",
        ),
        Section(
            "decide",
            "Eligibility decisions to make",
            n["to_decide"],
            to_decide,
            empty="Every patient with diagnostic criteria has a decision.",
        ),
        Section(
            "checklist",
            "Missing information to obtain",
            n["checklist"],
            checklist,
            empty="No missing information open.",
        ),
        Section(
            "tasks",
            "Escalations from follow-up answers",
            n["tasks"],
            _task_items(Role.PHYSICIAN),
            more_url=reverse("worklist:home"),
            more_label="Open the worklist",
            empty="No escalation open.",
        ),
        Section(
            "sae",
            "Serious adverse events to report",
            n["sae"],
            more_url=reverse("infusions:serious_events_to_report"),
            more_label="Open serious events to report",
            empty="None waiting to be reported.",
        ),
    ]
    if referrals is not None:
        sections.append(_referral_section(n["referrals"], referrals))
    return sections


def _nurse_home(now: dt.datetime) -> tuple[list[Section], list[homes.ChairNow]]:
    n = homes.counts(tasks=homes.open_escalations(), running=homes.running_infusions())
    chairs = homes.chairs_today(now)
    overdue = sum(1 for c in chairs if c.due_state in ("overdue", "due"))
    sections = [
        Section(
            "chairs",
            "Observations due now",
            overdue,
            more_url=reverse("scheduling:board"),
            more_label="Open the chair board",
            empty="No observation due now.",
            note=f"{n['running']} infusion{'' if n['running'] == 1 else 's'} running or paused.",
        ),
        Section(
            "tasks",
            "Escalations from follow-up answers",
            n["tasks"],
            _task_items(Role.NURSE),
            more_url=reverse("worklist:home"),
            more_label="Open the worklist",
            empty="No escalation open.",
        ),
    ]
    return sections, chairs


def _sessions_label(first: int, last: int) -> str:
    return f"session {first}" if first == last else f"sessions {first}–{last}"


def _plans_items(rows: list[dict[str, Any]], text: str, url_name: str) -> list[Item]:
    plans = (
        TreatmentPlan.objects.select_related("patient")
        .defer(*homes.PLAN_HEAVY)
        .in_bulk([r["plan"] for r in rows])
    )
    items = []
    for row in rows:
        plan = plans.get(row["plan"])
        if plan is None:
            continue
        target = plan.pk if url_name == "scheduling:book_series" else plan.patient_id
        items.append(
            Item(
                text=text.format(
                    drug=plan.get_drug_display(),
                    sessions=_sessions_label(row["first"], row["last"]),
                ),
                url=_url(url_name, target),
                patient=plan.patient,
                note=f"plan of {to_local(plan.prescribed_at):%Y-%m-%d}",
            )
        )
    return items


def _front_desk_home(referrals: QuerySet[Any] | None) -> list[Section]:
    queries: dict[str, QuerySet[Any]] = {
        "series": homes.series_to_book(),
        "consents": homes.consents_missing(),
        "arrivals": homes.todays_bookings(),
    }
    if referrals is not None:
        queries["referrals"] = referrals
    n = homes.counts(**queries)
    series = list(homes.series_to_book().order_by("plan")[:SHOWN])
    consents = list(homes.consents_missing().order_by("plan")[:SHOWN])
    arrivals = [
        Item(
            text=f"{to_local(b.starts_at):%H:%M} · {b.chair.name}",
            url=_url("scheduling:booking", b.pk),
            patient=b.patient,
            note=(
                b.infusion_session.get_status_display()
                if getattr(b, "infusion_session", None)
                else b.get_status_display()
            ),
        )
        for b in homes.todays_bookings()
        .select_related("patient", "chair", "infusion_session")
        .order_by("starts_at", "id")[: SHOWN * 3]
    ]
    sections = []
    if referrals is not None:
        sections.append(_referral_section(n["referrals"], referrals))
    sections += [
        Section(
            "series",
            "Series to book",
            n["series"],
            _plans_items(series, "{drug} plan: {sessions} to book", "scheduling:book_series"),
            empty="Every consented session is booked.",
        ),
        Section(
            "consents",
            "Consents missing",
            n["consents"],
            _plans_items(
                consents,
                "{drug} plan: {sessions} not covered by a signed consent",
                "treatments:patient",
            ),
            empty="Every active plan is covered by a signed consent.",
            note="A physician records the consent; book the patient's consent visit.",
        ),
        Section(
            "arrivals",
            "Today's arrivals",
            n["arrivals"],
            arrivals,
            more_url=reverse("scheduling:board"),
            more_label="Open the chair board",
            empty="No booking today.",
            actionable=False,
        ),
    ]
    return sections


def _billing_home(today: dt.date) -> list[Section]:
    """Sessions to invoice and overdue invoices: the first few of each, counted up to one more
    than shown ("9+"). An exact count would compute every invoice's balance (60,000 in the
    bench) on each visit; the billing page has the full lists."""
    billables = billable_sessions(limit=SHOWN + 1)
    overdue_rows = list(overdue_invoices(today)[: SHOWN + 1])
    to_invoice = [
        Item(
            text=b.description,
            url=_url("billing:patient", b.session.patient_id),
            patient=b.session.patient,
            when=b.service_date,
        )
        for b in billables[:SHOWN]
    ]
    overdue = [
        Item(
            text=f"Invoice {i.display_number}",
            url=_url("billing:invoice", i.pk),
            patient=i.patient,
            when=i.due_on,
            note=f"{(today - i.due_on).days} days overdue",
        )
        for i in overdue_rows[:SHOWN]
    ]
    return [
        Section(
            "invoice",
            "Sessions to invoice",
            len(billables),
            to_invoice,
            more_url=reverse("billing:home"),
            more_label="Open billing",
            empty="Every signed session is invoiced.",
            at_least=len(billables) > SHOWN,
        ),
        Section(
            "overdue",
            "Overdue invoices",
            len(overdue_rows),
            overdue,
            more_url=reverse("billing:home"),
            more_label="Open billing",
            empty="No invoice is overdue.",
            at_least=len(overdue_rows) > SHOWN,
        ),
    ]


def _admin_home(now: dt.datetime, today: dt.date) -> list[Section]:
    open_days = (
        Payment.objects.filter(
            received_on__gte=today - dt.timedelta(days=DAYS_TO_CLOSE), received_on__lt=today
        )
        .exclude(received_on__in=DailyClose.objects.values("day"))
        .values("received_on")
        .distinct()
    )
    since = now - dt.timedelta(hours=24)
    denied = AuditEvent.objects.filter(outcome=Outcome.DENIED, occurred_at__gte=since)
    n = homes.counts(days=open_days, denied=denied, sae=homes.serious_events_to_report())
    days = [
        Item(
            text=f"{row['received_on']:%Y-%m-%d}: payments taken, day not closed",
            url=_url("billing:day", row["received_on"]),
            when=row["received_on"],
        )
        for row in open_days.order_by("received_on")[:SHOWN]
    ]
    # One line per person and kind of record, most recent first (a script refused fifteen
    # times is one line, not fifteen).
    denials = [
        Item(
            text=f"{row['actor_username'] or 'someone not signed in'}: "
            f"{row['n']} refusal{'' if row['n'] == 1 else 's'} ({_refused_what(row)})",
            url=f"{reverse('audit:report')}?date_from={to_local(row['last']):%Y-%m-%d}",
            when=row["last"],
        )
        for row in denied.values("actor_username", "category", "action")
        .annotate(n=Count("id"), last=Max("occurred_at"))
        .order_by("-last", "actor_username", "category")[:SHOWN]
    ]
    return [
        Section(
            "days",
            "Days to close",
            n["days"],
            days,
            more_url=reverse("billing:reports"),
            more_label="Open billing reports",
            empty=f"Every day with payments in the last {DAYS_TO_CLOSE} days is closed.",
            note="Billing closes a day once its payments are counted.",
        ),
        Section(
            "sae",
            "Serious adverse events to report",
            n["sae"],
            more_url=reverse("infusions:serious_events_to_report"),
            more_label="Open serious events to report",
            empty="None waiting to be reported.",
        ),
        Section(
            "denied",
            "Refusals, last 24 hours",
            n["denied"],
            denials,
            note="Pages and actions refused to a signed-in person, by person and record.",
            one_line_each=False,
            more_url=f"{reverse('audit:report')}?date_from={to_local(since):%Y-%m-%d}",
            more_label="Open the audit report",
            empty="Nothing was refused in the last 24 hours.",
        ),
    ]


def _badge(role: str, sections: list[Section], chairs: list[homes.ChairNow]) -> int:
    """The top bar's count for ``role``, as worklist/context.py counts it on other pages."""
    by_key = {s.key: s.count for s in sections}
    if role == Role.PHYSICIAN:
        return by_key.get("cosign", 0)
    if role == Role.NURSE:
        return sum(1 for c in chairs if c.session is not None and c.session.status in homes.RUNNING)
    if role == Role.FRONT_DESK:
        return by_key.get("referrals", 0)
    return sum(s.count for s in sections if s.actionable)


def _refused_what(row: Mapping[str, Any]) -> str:
    if row["action"] == Action.ACCESS_DENIED:
        return "pages they may not open"
    return f"{Category(row['category']).label}"


@allow_roles(ROLES.view_home)
@require_safe
def today(request: HttpRequest) -> HttpResponse:
    """The signed-in staff member's first screen: the work waiting for their role."""
    user = acting_user(request)
    role = user.role
    now = timezone.now()
    day = local_today()
    chairs: list[homes.ChairNow] = []
    if role == Role.PHYSICIAN:
        sections = _physician_home(user, new_referrals())
    elif role == Role.NURSE:
        sections, chairs = _nurse_home(now)
    elif role == Role.FRONT_DESK:
        sections = _front_desk_home(new_referrals())
    elif role == Role.BILLING:
        sections = _billing_home(day)
    else:
        sections = _admin_home(now, day)
    badge = _badge(role, sections, chairs)
    if role in (Role.BILLING, Role.CLINIC_ADMIN):
        cache.set(badge_cache_key(user.pk), badge, BADGE_CACHE_SECONDS)
    # The top bar's badge on this page is the one just counted (no second query).
    request.home_badge = badge  # type: ignore[attr-defined]
    shown = {
        *(i.patient.pk for s in sections for i in s.items if i.patient is not None),
        *(c.booking.patient_id for c in chairs if c.booking is not None),
    }
    audit(
        actor_of(request),
        category=HOME_CATEGORY.get(Role(role), Category.AUDIT),
        action=Action.VIEW,
        detail={
            "page": "home",
            "patient_ids": sorted(shown),
            "referral_ids": [i.referral_id for s in sections for i in s.items if i.referral_id],
        },
    )
    context = {
        "sections": sections,
        "chairs": chairs,
        "today": day,
        "now": now,
        "role_label": user.get_role_display(),
    }
    return render(request, "worklist/today.html", context)
