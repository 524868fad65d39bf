"""The clinicians' worklist: safety escalation from answers at home, end to end."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.accounts.services import system_actor
from painclinic.web.audit.models import AuditEvent, Category
from painclinic.web.followup.models import AnswerChannel, FollowUpTimePoint
from painclinic.web.followup.services import do_plan_followup, do_save_answer, do_submit_time_point
from painclinic.web.lib.actor import Channel
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.lib.service import Refused
from painclinic.web.worklist.models import Task, TaskStatus
from painclinic.web.worklist.services import do_acknowledge_task, do_raise_task
from tests.conftest import actor_as, make_patient, make_user
from tests.web.followup.factories import series

P, N, F, B, A, PT = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)

URL_MATRIX = {
    "worklist:home": {P, N},
    "worklist:task": {P, N},
}

DAYS = [dt.date(2026, 12, 1), dt.date(2026, 12, 5)]
BASELINE_DAY = DAYS[0]
WEEK_1_DUE = DAYS[-1] + dt.timedelta(days=7)
NOW = to_utc(WEEK_1_DUE, dt.time(11, 0))
ACTION = "Called the patient, safety plan reviewed; seen tomorrow."


@pytest.fixture
def prescriber(db):
    return make_user(P, "dr_prescriber")


@pytest.fixture
def followup(users, prescriber):
    """A patient with a portal account, a series prescribed by ``prescriber``, planned."""
    patient = make_patient(email="ada@example.org")
    patient.portal_user = users[PT]
    patient.save()
    series(patient, prescriber, DAYS)
    do_plan_followup(system_actor(Channel.WORKER), WEEK_1_DUE)
    return patient


def point(patient, key):
    return FollowUpTimePoint.objects.get(patient=patient, key=key)


def answer(
    actor,
    tp,
    *,
    nrs=4,
    phq9=(1,) * 8 + (0,),
    side_effect=None,
    now=NOW,
    channel=AnswerChannel.PORTAL,
):
    for instrument in tp.instruments:
        if instrument == "side_effects":
            reported = side_effect is not None
            do_save_answer(actor, tp.pk, "side_effects", "new_side_effect", reported, channel, now)
            if reported:
                do_save_answer(actor, tp.pk, "side_effects", "kind", side_effect, channel, now)
        if instrument == "nrs":
            do_save_answer(actor, tp.pk, "nrs", "score", nrs, channel, now)
        elif instrument == "pgic":
            do_save_answer(actor, tp.pk, "pgic", "score", 2, channel, now)
        elif instrument == "phq9":
            for i, value in enumerate(phq9):
                do_save_answer(actor, tp.pk, "phq9", f"items[{i}]", value, channel, now)
        elif instrument == "bpi":
            for key in ("worst", "least", "average", "now"):
                do_save_answer(actor, tp.pk, "bpi", f"severity.{key}", 4, channel, now)
            for key in (
                "general_activity",
                "mood",
                "walking_ability",
                "normal_work",
                "relations_with_others",
                "sleep",
                "enjoyment_of_life",
            ):
                do_save_answer(actor, tp.pk, "bpi", f"interference.{key}", 3, channel, now)
    return do_submit_time_point(actor, tp.pk, channel, now)


# --- end to end -----------------------------------------------------------------------------


def test_item9_at_home_shows_crisis_and_puts_an_urgent_task_on_the_worklist(
    followup, users, prescriber, client_for
):
    patient_actor = actor_as(users[PT])
    week_1 = point(followup, "week_1")
    submitted = answer(patient_actor, week_1, phq9=(0,) * 8 + (1,))

    # The patient sees the crisis resources at once.
    assert submitted.crisis
    assert any("hurting yourself" in r for r in submitted.crisis_reasons)
    assert [r.dial for r in submitted.crisis_resources] == ["988", "911"]

    # One urgent task for the physician who prescribed the series.
    task = Task.objects.get()
    assert (task.urgency, task.status, task.assigned_to) == ("urgent", "open", prescriber)
    assert task.patient == followup and task.source_id == week_1.pk
    assert "item 9" in task.summary.lower() and "several days" in task.summary
    raised = AuditEvent.objects.get(detail__event="escalated to the worklist")
    assert raised.category == Category.FOLLOWUP and raised.patient_id == followup.pk
    assert raised.detail["rules"] == ["ESC-PHQ-001"]

    # Every physician sees it on the worklist (not only the prescriber).
    page = client_for(P).get(reverse("worklist:home"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Lovelace, Ada" in body and "Urgent" in body
    assert "ESC-PHQ" not in body  # no rule id on the page

    # Acknowledging without an action is refused naming the field; nothing changes.
    url = reverse("worklist:task", kwargs={"task_id": task.pk})
    refused = client_for(P).post(url, {"action_taken": ""})
    assert refused.status_code == 200
    assert "action_taken" in refused.context["form"].errors
    with pytest.raises(Refused) as error:
        do_acknowledge_task(actor_as(users[P]), task.pk, "  ")
    assert error.value.field == "action_taken"
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN

    # With the action taken it leaves the worklist, audited with the action.
    done = client_for(P).post(url, {"action_taken": ACTION})
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.ACKNOWLEDGED and task.action_taken == ACTION
    assert task.acknowledged_by == users[P]
    ack = AuditEvent.objects.get(detail__event="worklist task acknowledged")
    assert ack.detail["action_taken"] == ACTION and ack.patient_id == followup.pk
    after = client_for(P).get(reverse("worklist:home")).content.decode()
    assert "Nothing on the worklist" in after
    assert ACTION in after  # under "Recently acknowledged"


def test_no_escalation_no_task_and_no_crisis(followup, users):
    submitted = answer(actor_as(users[PT]), point(followup, "week_1"), phq9=(2,) * 8 + (0,))
    assert submitted.results["phq9"]["score"] == 16
    assert not submitted.crisis and submitted.crisis_resources == ()
    assert not Task.objects.exists()


def test_severe_phq9_total_escalates_urgently(followup, users):
    submitted = answer(actor_as(users[PT]), point(followup, "week_1"), phq9=(3,) * 6 + (1, 1, 0))
    assert submitted.results["phq9"]["score"] == 20 and submitted.crisis
    assert Task.objects.get().urgency == "urgent"


def test_a_sharp_rise_in_pain_from_baseline_is_a_soon_task_without_crisis(followup, users):
    patient_actor = actor_as(users[PT])
    answer(patient_actor, point(followup, "baseline"), nrs=4, now=to_utc(BASELINE_DAY, dt.time(8)))
    assert not Task.objects.exists()
    submitted = answer(patient_actor, point(followup, "week_1"), nrs=7)
    assert not submitted.crisis and submitted.notices
    task = Task.objects.get()
    assert task.urgency == "soon"
    assert "7/10 now, 4/10 at baseline (+3)" in task.summary


def test_a_rise_one_point_below_the_threshold_raises_nothing(followup, users):
    patient_actor = actor_as(users[PT])
    answer(patient_actor, point(followup, "baseline"), nrs=4, now=to_utc(BASELINE_DAY, dt.time(8)))
    submitted = answer(patient_actor, point(followup, "week_1"), nrs=6)
    assert not submitted.notices and not Task.objects.exists()


def test_answers_entered_by_phone_escalate_the_same_way(followup, users):
    nurse = actor_as(users[N])
    submitted = answer(
        nurse, point(followup, "week_1"), phq9=(0,) * 8 + (2,), channel=AnswerChannel.PHONE
    )
    assert submitted.crisis and Task.objects.get().raised_by == users[N]


# --- who acknowledges -----------------------------------------------------------------------


def _task(users, patient, urgency):
    return do_raise_task(
        actor_as(users[P]),
        patient,
        "followup_answers",
        urgency,
        "Test finding.",
        source_type="test",
        source_id=1,
        assigned_to=users[P],
    )


def test_a_nurse_cannot_acknowledge_an_urgent_task(users, patient, client_for):
    task = _task(users, patient, "urgent")
    with pytest.raises(Refused) as error:
        do_acknowledge_task(actor_as(users[N]), task.pk, ACTION)
    assert "physician" in error.value.message
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    refusal = AuditEvent.objects.filter(outcome="denied", object_id=str(task.pk), actor=users[N])
    assert refusal.exists()
    # The nurse sees it (to fetch a physician) without the form.
    page = client_for(N).get(reverse("worklist:task", kwargs={"task_id": task.pk}))
    assert page.status_code == 200 and not page.context["can_ack"]
    client_for(N).post(
        reverse("worklist:task", kwargs={"task_id": task.pk}), {"action_taken": ACTION}
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_a_nurse_acknowledges_a_soon_task(users, patient):
    task = _task(users, patient, "soon")
    do_acknowledge_task(actor_as(users[N]), task.pk, ACTION)
    task.refresh_from_db()
    assert task.status == TaskStatus.ACKNOWLEDGED and task.acknowledged_by == users[N]


def test_a_task_is_acknowledged_once(users, patient):
    task = _task(users, patient, "soon")
    do_acknowledge_task(actor_as(users[P]), task.pk, ACTION)
    with pytest.raises(Refused):
        do_acknowledge_task(actor_as(users[N]), task.pk, "Called again, no answer.")


@pytest.mark.parametrize("role", [F, B, A])
def test_front_desk_billing_and_admin_cannot_acknowledge(users, patient, role):
    task = _task(users, patient, "soon")
    with pytest.raises(PermissionDenied):
        do_acknowledge_task(actor_as(users[role]), task.pk, ACTION)


def test_a_patient_raises_tasks_only_about_themselves(users, patient):
    with pytest.raises(PermissionDenied):
        do_raise_task(
            actor_as(users[PT]),
            patient,
            "followup_answers",
            "urgent",
            "x",
            source_type="test",
            source_id=1,
        )


# --- pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING])
def test_front_desk_and_billing_never_see_the_worklist_or_its_text(
    users, patient, client_for, role
):
    task = _task(users, patient, "urgent")
    client = client_for(role)
    assert client.get(reverse("worklist:home")).status_code == 403
    assert client.get(reverse("worklist:task", kwargs={"task_id": task.pk})).status_code == 403
    home = client.get("/").content.decode()
    assert "Worklist" not in home and "Test finding." not in home


def test_urgent_first_on_the_worklist(users, patient, client_for):
    soon = _task(users, patient, "soon")
    urgent = _task(users, patient, "urgent")
    rows = client_for(P).get(reverse("worklist:home")).context["rows"]
    assert [r["task"].pk for r in rows] == [urgent.pk, soon.pk]


def test_the_task_links_to_the_patients_answers(users, patient, client_for):
    _task(users, patient, "soon")
    body = client_for(P).get(reverse("worklist:home")).content.decode()
    try:
        expected = reverse("followup:patient", kwargs={"patient_id": patient.pk})
    except Exception:
        expected = reverse("patients:detail", kwargs={"patient_id": patient.pk})
    assert f'href="{expected}"' in body


def test_opening_a_task_is_audited_as_a_read(users, patient, client_for):
    task = _task(users, patient, "soon")
    client_for(N).get(reverse("worklist:task", kwargs={"task_id": task.pk}))
    assert AuditEvent.objects.filter(
        action="view", patient=patient, actor=users[N], object_id=str(task.pk)
    ).exists()


def test_the_nav_badge_counts_open_tasks_with_a_constant_number_of_queries(
    users, patient, client_for
):
    client = client_for(P)
    url = reverse("patients:search")
    _task(users, patient, "urgent")
    with CaptureQueriesContext(connection) as few:
        page = client.get(url)
    assert 'class="nav-badge"' in page.content.decode()
    for _ in range(5):
        _task(users, patient, "soon")
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)
    assert len(many) == len(few)
    assert '<span class="nav-badge" title="open tasks">6</span>' in page.content.decode()
    # A nurse's badge counts what a nurse can acknowledge (the 5 "soon" ones).
    nurse_page = client_for(N).get(url).content.decode()
    assert '<span class="nav-badge" title="open tasks">5</span>' in nurse_page


def test_a_task_that_does_not_exist_is_not_found(client_for):
    missing = reverse("worklist:task", kwargs={"task_id": 9223372036854775807})
    assert client_for(P).get(missing).status_code == 404
    assert client_for(P).post(missing, {"action_taken": ACTION}).status_code == 404


def test_a_new_side_effect_reported_at_home_is_a_soon_task(followup, users):
    submitted = answer(actor_as(users[PT]), point(followup, "week_1"), side_effect="dizziness")
    assert not submitted.crisis
    task = Task.objects.get(patient=followup)
    assert task.urgency == "soon"
    assert "dizziness or feeling faint" in task.summary
