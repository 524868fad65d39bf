"""The clinicians' worklist: open tasks (urgent first), and one task with its acknowledgement."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.services import Action, audit
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.lib.service import Refused
from painclinic.web.patients.access import read_for
from painclinic.web.worklist.forms import AcknowledgeForm
from painclinic.web.worklist.models import Task, TaskStatus
from painclinic.web.worklist.roles import ROLES
from painclinic.web.worklist.services import (
    CATEGORY,
    can_acknowledge,
    do_acknowledge_task,
    open_tasks,
)

RECENT = 10


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
