"""Only nurses open an infusion chart from the board; physicians follow a link to an open one."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from tests.web.scheduling.factories import make_booking, make_chair, make_plan, make_session


def test_open_chart_button_is_for_nurses_and_the_chart_link_for_both(users, patient, client_for):
    chair = make_chair(days=range(7))  # open every day, so the test does not depend on today
    today = timezone.localdate()
    plan = make_plan(patient, users[Role.PHYSICIAN])
    unopened = make_booking(patient, chair, users[Role.FRONT_DESK], today, "08:00", plan=plan)
    opened = make_booking(
        patient, chair, users[Role.FRONT_DESK], today, "12:30", plan=plan, number=2
    )
    session = make_session(opened)
    open_url = reverse("infusions:open", kwargs={"booking_id": unopened.pk}).encode()
    chart_url = reverse("infusions:session", kwargs={"session_id": session.pk}).encode()
    board = reverse("scheduling:board") + f"?date={today.isoformat()}"

    nurse_page = client_for(Role.NURSE).get(board).content
    assert open_url in nurse_page and chart_url in nurse_page
    physician_page = client_for(Role.PHYSICIAN).get(board).content
    assert open_url not in physician_page
    assert chart_url in physician_page
