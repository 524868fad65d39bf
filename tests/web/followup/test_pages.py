"""The questionnaire pages: single-use links, one question per screen, staff entry by phone,
and the portal home's follow-up (due questionnaires, appointments, pain over time)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.accounts.services import system_actor
from painclinic.web.audit.models import AuditEvent, Category
from painclinic.web.followup.models import (
    AnswerChannel,
    FollowUpLink,
    FollowUpResponse,
    FollowUpTimePoint,
    TimePointStatus,
)
from painclinic.web.followup.services import (
    do_issue_link,
    do_plan_followup,
    do_save_answer,
    do_submit_time_point,
    link_token_hash,
)
from painclinic.web.followup.tasks import run_tick
from painclinic.web.lib.actor import Channel
from painclinic.web.lib.clinictime import to_local, to_utc
from tests.conftest import actor_as, make_patient
from tests.web.followup.factories import add_booking, granted, series

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)
URL_MATRIX: dict[str, set[Role]] = {
    "followup:patient": {P, N},
    "followup:start": {P, N, T},
    "followup:question": {P, N, T},
    "followup:review": {P, N, T},
    "followup:done": {P, N, T},
}
GONE = "This link no longer works"
TOTAL = 25  # NRS 1, BPI 12, PGIC 1, PHQ-9 9, side effects 2
PHQ9_ITEM9 = 23


def today() -> dt.date:
    return to_local(timezone.now()).date()


def worker():
    return system_actor(Channel.WORKER, "test")


@pytest.fixture
def due_now(users):
    """A portal patient whose week-1 questionnaires are due today (and week 2 not yet open)."""
    patient = make_patient("Ada", "Lovelace", email="ada@example.org")
    patient.portal_user = users[T]
    patient.save()
    last = today() - dt.timedelta(days=7)
    series(patient, users[P], [last - dt.timedelta(days=4), last])
    do_plan_followup(worker(), today())
    return FollowUpTimePoint.objects.get(patient=patient, key="week_1")


@pytest.fixture
def other_patient(users):
    """Another patient with a time point due today, and no portal account."""
    patient = make_patient("Grace", "Hopper", email="grace@example.org")
    last = today() - dt.timedelta(days=7)
    series(patient, users[P], [last - dt.timedelta(days=4), last], chair_name="Chair F2")
    do_plan_followup(worker(), today())
    return FollowUpTimePoint.objects.get(patient=patient, key="week_1")


def open_link(point) -> tuple[Client, str]:
    issued = do_issue_link(worker(), point.pk)
    client = Client()
    return client, reverse("link:open", args=[issued.token])


def answer_everything(client: Client, first_url: str, phq9_item9: int = 0) -> str:
    """Walk the screens one question at a time (the first choice offered, or a 4 on 0-10)."""
    url = first_url
    for number in range(1, TOTAL + 1):
        page = client.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert f"Question {number} of {TOTAL}" in text
        choices = re.findall(r'name="answer" value="([^"]+)"', text)
        value = "4" if "4" in choices else choices[0]
        if number == PHQ9_ITEM9:
            value = str(phq9_item9)
        if "False" in choices:  # no new side effect since the last infusion
            value = "False"
        response = client.post(url, {"answer": value})
        assert response.status_code == 302
        url = response["Location"]
    return url


# --- single-use links ------------------------------------------------------------------------


def test_a_link_opens_one_time_point_and_cannot_be_used_again(due_now):
    client, url = open_link(due_now)
    first = client.get(url)
    assert first.status_code == 302 and first["Location"] == reverse("link:question") + "?n=1"
    review = answer_everything(client, first["Location"])
    assert review == reverse("link:review")
    done = client.post(review)
    assert done["Location"] == reverse("link:done")
    assert "Thank you" in client.get(done["Location"]).content.decode()
    due_now.refresh_from_db()
    assert due_now.status == TimePointStatus.COMPLETED
    assert set(
        FollowUpResponse.objects.filter(time_point=due_now).values_list("channel", flat=True)
    ) == {AnswerChannel.LINK}
    link = FollowUpLink.objects.get(time_point=due_now)
    assert link.used_at is not None
    # The same link again, in a fresh browser or the same one: the plain page.
    for again in (Client(), client):
        page = again.get(url)
        assert page.status_code == 200 and GONE in page.content.decode()
    assert client.get(reverse("link:question") + "?n=1").content.decode().count(GONE) == 1


def test_an_expired_link_shows_the_same_page(due_now):
    client, url = open_link(due_now)
    FollowUpLink.objects.filter(time_point=due_now).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    page = client.get(url)
    assert GONE in page.content.decode()
    assert AuditEvent.objects.filter(
        category=Category.FOLLOWUP, outcome="denied", detail__reason="expired"
    ).exists()


def test_a_link_stops_at_the_policy_lifetime_and_never_after_the_window(due_now):
    now = timezone.now()
    with override_settings(FOLLOWUP_LINK_HOURS=5):
        issued = do_issue_link(worker(), due_now.pk, now)
    assert issued.expires_at == now + dt.timedelta(hours=5)
    with override_settings(FOLLOWUP_LINK_HOURS=24 * 60):
        issued = do_issue_link(worker(), due_now.pk, now)
    closes = to_utc(due_now.closes_on + dt.timedelta(days=1), dt.time(0, 0))
    assert issued.expires_at == closes
    # Only the hash is kept.
    assert not FollowUpLink.objects.filter(token_sha256=issued.token).exists()
    assert FollowUpLink.objects.filter(token_sha256=link_token_hash(issued.token)).exists()


def test_a_newer_link_revokes_the_older_one_even_mid_way(due_now):
    client, old_url = open_link(due_now)
    started = client.get(old_url)
    assert client.get(started["Location"]).status_code == 200
    newer_client, new_url = open_link(due_now)
    # The session opened with the old link stops at once, and the old link itself too.
    assert GONE in client.get(reverse("link:question") + "?n=1").content.decode()
    assert GONE in Client().get(old_url).content.decode()
    assert newer_client.get(new_url).status_code == 302


def test_an_unknown_token_gets_the_same_page_audited(db):
    for token in ("x" * 43, "short", "A" * 100):
        page = Client().get(reverse("link:open", args=[token]))
        assert page.status_code == 200 and GONE in page.content.decode()
    assert (
        AuditEvent.objects.filter(
            category=Category.FOLLOWUP, outcome="denied", detail__reason="unknown"
        ).count()
        == 3
    )


def test_a_link_opens_nothing_of_another_patient_or_another_time_point(
    due_now, other_patient, users
):
    client, url = open_link(due_now)
    client.get(url)
    # The signed-in pages are not open to a link visitor (not signed in).
    for point in (other_patient, due_now):
        page = client.get(reverse("followup:question", args=[point.pk, 1]))
        assert page.status_code == 302 and reverse("accounts:login") in page["Location"]
    # The session is scoped to the link's time point: a tampered scope is refused.
    session = client.session
    session["followup_link"] = {**session["followup_link"], "point": other_patient.pk}
    session.save()
    assert GONE in client.get(reverse("link:question") + "?n=1").content.decode()
    # Another time point of the same patient (week 2), with this link's id: refused.
    week_2 = FollowUpTimePoint.objects.get(patient=due_now.patient, key="week_2")
    client2, url2 = open_link(due_now)
    client2.get(url2)
    session = client2.session
    session["followup_link"] = {**session["followup_link"], "point": week_2.pk}
    session.save()
    assert GONE in client2.get(reverse("link:question") + "?n=1").content.decode()
    assert not FollowUpResponse.objects.filter(time_point__in=[other_patient, week_2]).exists()


def test_a_patient_without_an_account_gets_one_through_the_link(other_patient):
    assert other_patient.patient.portal_user is None
    client, url = open_link(other_patient)
    first = client.get(url)
    other_patient.patient.refresh_from_db()
    user = other_patient.patient.portal_user
    assert user is not None and user.role == Role.PATIENT and not user.has_usable_password()
    client.post(first["Location"], {"answer": "6"})
    response = FollowUpResponse.objects.get(time_point=other_patient, instrument="nrs")
    assert response.answers == {"score": 6} and response.channel == AnswerChannel.LINK
    assert AuditEvent.objects.filter(
        category=Category.ACCOUNT, patient=other_patient.patient
    ).exists()


def test_the_reminder_email_carries_a_working_single_use_link(due_now, users):
    granted(due_now.patient, today() - dt.timedelta(days=20), users[F])
    run_tick(worker(), now=to_utc(today(), dt.time(11, 0)))
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    found = re.search(r"https?://[^/\s]+(/f/[A-Za-z0-9_\-]+/)", body)
    assert found, body
    client = Client()
    first = client.get(found.group(1))
    assert first["Location"] == reverse("link:question") + "?n=1"
    page = client.get(first["Location"]).content.decode()
    assert "Question 1 of 25" in page and "How much pain do you have right now?" in page


# --- one question per screen -----------------------------------------------------------------


def test_the_portal_patient_answers_one_question_per_screen_with_progress(due_now, client_for):
    client = client_for(T)
    start = client.get(reverse("followup:start", args=[due_now.pk]))
    first = start["Location"]
    assert first == reverse("followup:question", args=[due_now.pk, 1])
    page = client.get(first).content.decode()
    assert "Question 1 of 25" in page and "<progress" in page
    assert "nrs" not in re.sub(r"<[^>]+>", " ", page)  # no instrument key in the text
    # A missing answer is refused naming the question; nothing saved.
    refused = client.post(first, {})
    assert "Question 1: choose one answer." in refused.content.decode()
    assert not FollowUpResponse.objects.filter(time_point=due_now).exists()
    # An answer is saved at once and the next screen follows.
    nxt = client.post(first, {"answer": "7"})
    assert nxt["Location"] == reverse("followup:question", args=[due_now.pk, 2])
    assert FollowUpResponse.objects.get(time_point=due_now, instrument="nrs").answers == {
        "score": 7
    }
    page = client.get(nxt["Location"]).content.decode()
    assert "Question 2 of 25" in page and "Brief Pain Inventory" in page
    # Coming back later continues where the patient stopped; back shows the saved answer.
    assert client.get(reverse("followup:start", args=[due_now.pk]))["Location"] == nxt["Location"]
    back = client.get(first).content.decode()
    assert 'value="7" checked' in back
    # An optional question may be skipped.
    skipped = client.post(nxt["Location"], {"skip": "1"})
    assert skipped["Location"] == reverse("followup:question", args=[due_now.pk, 3])


def test_review_refuses_until_required_questions_are_answered_then_confirms(due_now, client_for):
    client = client_for(T)
    review = reverse("followup:review", args=[due_now.pk])
    refused = client.post(review).content.decode()
    assert "Your pain today" in refused and "still to answer" in refused
    answer_everything(client, reverse("followup:question", args=[due_now.pk, 1]))
    page = client.get(review).content.decode()
    assert "Not answered yet" not in page and "Submit my answers" in page
    done = client.post(review)
    assert done["Location"] == reverse("followup:done", args=[due_now.pk])
    confirmation = client.get(done["Location"]).content.decode()
    assert "Thank you" in confirmation and "Please get support now" not in confirmation


def test_the_confirmation_shows_crisis_resources_when_item_9_is_above_0(due_now, client_for):
    client = client_for(T)
    answer_everything(client, reverse("followup:question", args=[due_now.pk, 1]), phq9_item9=1)
    done = client.post(reverse("followup:review", args=[due_now.pk]))
    page = client.get(done["Location"]).content.decode()
    assert "9-8-8" in page and "911" in page
    assert page.index("9-8-8") < page.index("Thank you")  # at once, before anything else
    # Opened again later (another session), the saved answers still call for them.
    from tests.conftest import logged_in_client

    later = logged_in_client(due_now.patient.portal_user)
    assert "9-8-8" in later.get(done["Location"]).content.decode()


def test_a_patient_cannot_open_another_patients_questionnaire(other_patient, due_now, client_for):
    page = client_for(T).get(reverse("followup:question", args=[other_patient.pk, 1]))
    assert page.status_code == 404


# --- staff entry by phone ---------------------------------------------------------------------


def test_a_nurse_enters_answers_given_by_phone_marked_as_such(due_now, client_for, users):
    client = client_for(N)
    overview = client.get(reverse("followup:patient", args=[due_now.patient_id]))
    text = overview.content.decode()
    assert "Week 1" in text or due_now.label in text
    assert "Enter answers given by phone" in text
    assert AuditEvent.objects.filter(
        category=Category.FOLLOWUP, action="view", patient=due_now.patient, actor=users[N]
    ).exists()
    page = client.get(reverse("followup:question", args=[due_now.pk, 1])).content.decode()
    assert "By phone:" in page
    review = answer_everything(client, reverse("followup:question", args=[due_now.pk, 1]))
    assert "By phone:" in client.get(review).content.decode()
    client.post(review)
    responses = FollowUpResponse.objects.filter(time_point=due_now)
    assert {r.channel for r in responses} == {AnswerChannel.PHONE}
    assert {r.entered_by_id for r in responses} == {users[N].pk}
    text = client.get(reverse("followup:patient", args=[due_now.patient_id])).content.decode()
    assert "By phone, entered by staff" in text


# --- the portal home --------------------------------------------------------------------------


def test_the_portal_home_shows_due_questionnaires_appointments_and_pain(due_now, client_for, users):
    from painclinic.web.scheduling.models import Chair

    add_booking(due_now.plan, Chair.objects.first(), today() + dt.timedelta(days=3), users[F])
    # An earlier time point answered by phone: a pain score on the trajectory.
    end = FollowUpTimePoint.objects.get(patient=due_now.patient, key="end_of_series")
    FollowUpTimePoint.objects.filter(pk=end.pk).update(
        opens_on=today() - dt.timedelta(days=1), closes_on=today() + dt.timedelta(days=1)
    )
    nurse = actor_as(users[N])
    do_save_answer(nurse, end.pk, "nrs", "score", 6, AnswerChannel.PHONE)
    do_save_answer(nurse, end.pk, "bpi", "severity.now", 6, AnswerChannel.PHONE)
    for i in range(9):
        do_save_answer(nurse, end.pk, "phq9", f"items[{i}]", 0, AnswerChannel.PHONE)
    do_save_answer(nurse, end.pk, "pgic", "score", 3, AnswerChannel.PHONE)
    do_save_answer(nurse, end.pk, "side_effects", "new_side_effect", False, AnswerChannel.PHONE)
    do_submit_time_point(nurse, end.pk, AnswerChannel.PHONE)
    page = client_for(T).get(reverse("portal:home")).content.decode()
    assert "My questionnaires" in page and due_now.label in page
    assert f"Due by {due_now.due_on:%A} " in page
    assert reverse("followup:start", args=[due_now.pk]) in page
    assert "My next appointments" in page and "Do not eat for 6 hours" in page
    assert "An adult must take you home" in page
    assert "My pain over time" in page and "<svg" in page and 'value="6"' in page
    assert "(by phone)" in page
