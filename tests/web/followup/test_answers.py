"""Answers at home, saved one at a time and submitted per time point."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.services import system_actor
from painclinic.web.audit.models import AuditEvent, Category
from painclinic.web.followup.models import (
    AnswerChannel,
    FollowUpResponse,
    FollowUpTimePoint,
    ResponseStatus,
    TimePointStatus,
)
from painclinic.web.followup.services import (
    do_plan_followup,
    do_save_answer,
    do_submit_time_point,
)
from painclinic.web.lib.actor import Channel
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.lib.service import Refused
from tests.conftest import actor_as, make_patient
from tests.web.followup.factories import series

DAYS = [dt.date(2026, 12, 1), dt.date(2026, 12, 5)]
WEEK_1_DUE = DAYS[-1] + dt.timedelta(days=7)
NOW = to_utc(WEEK_1_DUE, dt.time(11, 0))


@pytest.fixture
def week_1(users):
    patient = make_patient(email="ada@example.org")
    patient.portal_user = users[Role.PATIENT]
    patient.save()
    series(patient, users[Role.PHYSICIAN], DAYS)
    do_plan_followup(system_actor(Channel.WORKER), WEEK_1_DUE)
    return FollowUpTimePoint.objects.get(patient=patient, key="week_1")


def answer_all(actor, point, channel=AnswerChannel.PORTAL, phq9_item9=0):
    do_save_answer(actor, point.pk, "nrs", "score", 4, channel, NOW)
    for key in ("worst", "least", "average", "now"):
        do_save_answer(actor, point.pk, "bpi", f"severity.{key}", 4, channel, NOW)
    for key in (
        "general_activity",
        "mood",
        "walking_ability",
        "normal_work",
        "relations_with_others",
        "sleep",
        "enjoyment_of_life",
    ):
        do_save_answer(actor, point.pk, "bpi", f"interference.{key}", 3, channel, NOW)
    do_save_answer(actor, point.pk, "pgic", "score", 2, channel, NOW)
    do_save_answer(actor, point.pk, "side_effects", "new_side_effect", False, channel, NOW)
    for i in range(9):
        value = phq9_item9 if i == 8 else 1
        do_save_answer(actor, point.pk, "phq9", f"items[{i}]", value, channel, NOW)


def test_a_patient_answers_one_question_at_a_time_and_submits(week_1, users):
    patient_actor = actor_as(users[Role.PATIENT])
    answer_all(patient_actor, week_1)
    draft = FollowUpResponse.objects.get(time_point=week_1, instrument="phq9")
    assert draft.status == ResponseStatus.DRAFT and draft.answers["items[0]"] == 1
    submitted = do_submit_time_point(patient_actor, week_1.pk, AnswerChannel.PORTAL, NOW)
    assert submitted.results["phq9"]["score"] == 8
    assert submitted.results["nrs"]["score"] == 4
    week_1.refresh_from_db()
    assert week_1.status == TimePointStatus.COMPLETED
    assert AuditEvent.objects.filter(
        category=Category.FOLLOWUP, detail__event="follow-up submitted", patient=week_1.patient
    ).exists()
    with pytest.raises(Refused):  # submitted once; answers are not changed afterwards
        do_save_answer(patient_actor, week_1.pk, "nrs", "score", 9, AnswerChannel.PORTAL, NOW)


def test_an_answer_out_of_range_is_refused_naming_the_question(week_1, users):
    actor = actor_as(users[Role.PATIENT])
    with pytest.raises(Refused) as refused:
        do_save_answer(actor, week_1.pk, "nrs", "score", 11, AnswerChannel.PORTAL, NOW)
    assert refused.value.field == "score" and "0 to 10" in refused.value.message
    assert not FollowUpResponse.objects.exists()


def test_a_submission_with_a_question_unanswered_names_the_questionnaire(week_1, users):
    actor = actor_as(users[Role.PATIENT])
    do_save_answer(actor, week_1.pk, "nrs", "score", 4, AnswerChannel.PORTAL, NOW)
    with pytest.raises(Refused) as refused:
        do_submit_time_point(actor, week_1.pk, AnswerChannel.PORTAL, NOW)
    assert refused.value.field == "bpi"
    week_1.refresh_from_db()
    assert week_1.status == TimePointStatus.SCHEDULED


def test_a_patient_cannot_answer_another_patients_questionnaire(week_1, users):
    stranger = User.objects.create_user("pt_other", password=None, role=Role.PATIENT)
    with pytest.raises(PermissionDenied):
        do_save_answer(actor_as(stranger), week_1.pk, "nrs", "score", 4, AnswerChannel.PORTAL, NOW)


def test_a_closed_window_takes_no_answers(week_1, users):
    late = to_utc(week_1.closes_on + dt.timedelta(days=1), dt.time(11))
    with pytest.raises(Refused) as refused:
        do_save_answer(
            actor_as(users[Role.PATIENT]), week_1.pk, "nrs", "score", 4, AnswerChannel.PORTAL, late
        )
    assert "closed" in refused.value.message


def test_staff_enter_answers_given_by_phone_marked_as_such(week_1, users):
    nurse = actor_as(users[Role.NURSE])
    with pytest.raises(Refused):  # staff do not answer "through the portal"
        do_save_answer(nurse, week_1.pk, "nrs", "score", 4, AnswerChannel.PORTAL, NOW)
    answer_all(nurse, week_1, channel=AnswerChannel.PHONE)
    do_submit_time_point(nurse, week_1.pk, AnswerChannel.PHONE, NOW)
    response = FollowUpResponse.objects.get(time_point=week_1, instrument="nrs")
    assert response.channel == AnswerChannel.PHONE and response.entered_by == users[Role.NURSE]


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN])
def test_other_roles_cannot_enter_answers(week_1, users, role):
    with pytest.raises(PermissionDenied):
        do_save_answer(
            actor_as(users[role]), week_1.pk, "nrs", "score", 4, AnswerChannel.PHONE, NOW
        )
