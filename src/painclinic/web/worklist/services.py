"""Worklist services: raise a task for a clinician, acknowledge it with the action taken.

Both are audited in the follow-up category (the findings come from follow-up answers); the
audit event of a raised task names the rules that fired and their values, the acknowledgement
carries the action taken. Reads for the pages (``open_tasks``, ``open_task_count``) are plain
queries with a fixed number of statements whatever the number of tasks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.service import Actor, Refused, note_subject, service
from painclinic.web.patients.models import Patient
from painclinic.web.worklist.models import Task, TaskKind, TaskStatus, Urgency
from painclinic.web.worklist.roles import ACKNOWLEDGE_BY_URGENCY, ROLES

CATEGORY = Category.FOLLOWUP
PRIORITY = {Urgency.URGENT: 0, Urgency.SOON: 1}
# The action taken is a sentence, not a tick: at least this many characters.
MIN_ACTION_CHARS = 10
MAX_ACTION_CHARS = 2000


@service(ROLES.raise_task, category=CATEGORY, action=Action.CREATE)
def do_raise_task(
    actor: Actor,
    patient: Patient,
    kind: str,
    urgency: str,
    summary: str,
    *,
    source_type: str,
    source_id: int,
    assigned_to: Any = None,
    findings: Sequence[dict[str, Any]] = (),
    now: dt.datetime | None = None,
) -> Task:
    """Put a task on the worklist for ``assigned_to`` (the responsible physician), audited.

    Called inside the caller's transaction (a follow-up submission raises its task in the same
    transaction as its scores). Every physician sees the task; it stays open until a clinician
    acknowledges it with the action taken.
    """
    if kind not in TaskKind.values:
        raise Refused("Unknown kind of task.", "kind")
    if urgency not in Urgency.values:
        raise Refused("Unknown urgency.", "urgency")
    if not summary.strip():
        raise Refused("Say what the clinician must know.", "summary")
    if actor.role == Role.PATIENT and patient.portal_user_id != actor.user.pk:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("a patient raises tasks only about themselves")
    note_subject(patient=patient)
    now = now or timezone.now()
    with transaction.atomic():
        task = Task.objects.create(
            patient=patient,
            kind=kind,
            urgency=urgency,
            priority=PRIORITY[Urgency(urgency)],
            summary=summary.strip(),
            findings=list(findings),
            source_type=source_type,
            source_id=source_id,
            assigned_to=assigned_to,
            raised_at=now,
            raised_by=actor.user,
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=patient,
            obj=task,
            detail={
                "event": "escalated to the worklist",
                "task": task.pk,
                "urgency": urgency,
                "kind": kind,
                "assigned_to": getattr(assigned_to, "pk", None),
                "source": {"type": source_type, "id": source_id},
                "rules": [f.get("rule_id") for f in findings],
                "findings": list(findings),
            },
        )
    return task


@service(ROLES.acknowledge_task, category=CATEGORY, action=Action.UPDATE)
def do_acknowledge_task(
    actor: Actor, task_id: int, action_taken: str, now: dt.datetime | None = None
) -> Task:
    """Take a task off the worklist, recording the action taken (required), audited.

    An urgent task is acknowledged by a physician only; a less urgent one by a physician or a
    nurse. A task is acknowledged once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("patient").filter(pk=task_id).first()
        if task is None:
            raise Refused("That task does not exist.", "task")
        note_subject(patient=task.patient, obj=task)
        if task.status != TaskStatus.OPEN:
            raise Refused("This task was already acknowledged.", "task")
        if str(actor.role) not in ACKNOWLEDGE_BY_URGENCY[task.urgency]:
            raise Refused("An urgent task is acknowledged by a physician.", "task")
        text = (action_taken or "").strip()
        if len(text) < MIN_ACTION_CHARS:
            raise Refused(
                "Action taken: say what was done (for example: called the patient, safety "
                "plan reviewed).",
                "action_taken",
            )
        if len(text) > MAX_ACTION_CHARS:
            raise Refused(f"Action taken: at most {MAX_ACTION_CHARS} characters.", "action_taken")
        task.status = TaskStatus.ACKNOWLEDGED
        task.acknowledged_at = now
        task.acknowledged_by = actor.user
        task.action_taken = text
        task.version += 1
        task.save(
            update_fields=[
                "status",
                "acknowledged_at",
                "acknowledged_by",
                "action_taken",
                "version",
            ]
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.UPDATE,
            patient=task.patient,
            obj=task,
            detail={
                "event": "worklist task acknowledged",
                "task": task.pk,
                "urgency": task.urgency,
                "action_taken": text,
            },
        )
    return task


def open_tasks(role: str) -> QuerySet[Task]:
    """The open tasks a role sees on the worklist, urgent first, oldest first within a level."""
    query = Task.objects.filter(status=TaskStatus.OPEN)
    if role not in ROLES.view_worklist:
        return query.none()
    return query.select_related("patient", "assigned_to").order_by("priority", "raised_at", "id")


def open_task_count(role: str) -> int:
    """The navigation badge: open tasks this role can acknowledge (one COUNT query)."""
    acknowledgeable = [u for u, roles in ACKNOWLEDGE_BY_URGENCY.items() if role in roles]
    if role not in ROLES.view_worklist or not acknowledgeable:
        return 0
    return Task.objects.filter(status=TaskStatus.OPEN, urgency__in=acknowledgeable).count()


def can_acknowledge(role: str, task: Task) -> bool:
    return role in ROLES.acknowledge_task and role in ACKNOWLEDGE_BY_URGENCY[task.urgency]
