"""A patient at home on a phone (390 x 844): the reminder's link, every question one per
screen, the review and the confirmation (crisis resources when PHQ-9 item 9 is above 0); then
the physician in the clinic: the urgent task on the worklist, acknowledged with the action
taken, the patient's trajectory against baseline, and the recommendation accepted."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.browser.conftest import DEMO_PASSWORD, checked_goto, screenshot, serving, sign_in

pytestmark = pytest.mark.browser

SETUP = """
import datetime as dt, django
django.setup()
from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.services import system_actor
from painclinic.web.followup.models import FollowUpTimePoint
from painclinic.web.followup.services import do_issue_link, do_plan_followup
from painclinic.web.lib.actor import Channel
from painclinic.web.lib.clinictime import to_local
from django.utils import timezone
from tests.conftest import make_patient
from tests.web.followup.factories import series
today = to_local(timezone.now()).date()
patient = make_patient("Ada", "Homeworth", email="ada@example.org")
physician = User.objects.filter(role=Role.PHYSICIAN).first()
last = today - dt.timedelta(days=7)
series(patient, physician, [last - dt.timedelta(days=4), last], chair_name="Journey chair")
actor = system_actor(Channel.WORKER, "journey")
do_plan_followup(actor, today)
# The baseline, given by phone to a nurse the day before the first infusion: pain 8/10.
from painclinic.web.followup.models import AnswerChannel
from painclinic.web.followup.services import do_save_answer, do_submit_time_point
from painclinic.web.lib.actor import Actor
from painclinic.web.lib.clinictime import to_utc
nurse = Actor.for_user(User.objects.filter(role=Role.NURSE).first(), Channel.CLI, "journey")
base = FollowUpTimePoint.objects.get(patient=patient, key="baseline")
on, phone = to_utc(base.due_on - dt.timedelta(days=1), dt.time(12)), AnswerChannel.PHONE
do_save_answer(nurse, base.pk, "nrs", "score", 8, phone, on)
for key in ("worst", "least", "average", "now"):
    do_save_answer(nurse, base.pk, "bpi", "severity." + key, 7, phone, on)
for key in ("general_activity", "mood", "walking_ability", "normal_work",
            "relations_with_others", "sleep", "enjoyment_of_life"):
    do_save_answer(nurse, base.pk, "bpi", "interference." + key, 7, phone, on)
for i in range(9):
    do_save_answer(nurse, base.pk, "phq9", f"items[{i}]", 0 if i == 8 else 1, phone, on)
do_submit_time_point(nurse, base.pk, phone, on)
print("PATIENT", patient.pk)
point = FollowUpTimePoint.objects.get(patient=patient, key="week_1")
print("TOKEN", do_issue_link(actor, point.pk).token)
"""


@pytest.fixture(scope="module")
def link_server(tmp_path_factory) -> Iterator[tuple[str, str, int]]:
    data_dir = tmp_path_factory.mktemp("followup-journey")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PAINCLINIC_ENV": "development",
        "PAINCLINIC_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
    }
    cli = [sys.executable, "-m", "painclinic.cli"]
    subprocess.run(
        [*cli, "demo", "--password", DEMO_PASSWORD, "--patients", "2"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    done = subprocess.run(
        [sys.executable, "-c", SETUP], env=env, check=True, capture_output=True, text=True
    )
    lines = done.stdout.splitlines()
    token = next(line.split()[1] for line in lines if line.startswith("TOKEN"))
    patient_id = int(next(line.split()[1] for line in lines if line.startswith("PATIENT")))
    with serving(data_dir, env) as url:
        yield url, token, patient_id


def test_a_patient_answers_on_a_phone_from_the_reminder_link(browser, link_server):
    url, token, patient_id = link_server
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    checked_goto(page)
    page.goto(f"{url}/f/{token}/")
    assert page.get_by_text("Question 1 of 25").is_visible()
    screenshot(page, "followup-phone-question-1")
    for number in range(1, 26):
        # htmx swaps the next screen in without a page load: wait for it.
        page.get_by_text(f"Question {number} of 25", exact=True).wait_for(timeout=10000)
        choices = page.locator(".fu-choice")
        if number == 1:  # pain now 7/10: little change from the baseline's 8
            choices.nth(7).click()
        elif number == 23:  # PHQ-9 item 9: "several days"
            choices.nth(1).click()
        elif number == 24:  # no new side effect since the last infusion
            page.get_by_text("No", exact=True).click()
        elif number == 25:  # which side effect: optional, skipped
            page.get_by_role("button", name="Skip this question").click()
            page.wait_for_load_state()
            continue
        elif choices.count() == 11:
            choices.nth(4).click()
        else:
            choices.nth(1).click()
        if number == 2:
            screenshot(page, "followup-phone-question-2")
        if number == 16:
            screenshot(page, "followup-phone-question-phq9")
        page.get_by_role("button", name="Save and").click()
        page.wait_for_load_state()
    page.get_by_role("heading", name="Check your answers").wait_for(timeout=10000)
    screenshot(page, "followup-phone-review")
    page.get_by_role("button", name="Submit my answers").click()
    page.wait_for_load_state()
    page.get_by_text("Thank you").wait_for(timeout=10000)
    assert page.get_by_text("9-8-8").first.is_visible()
    screenshot(page, "followup-phone-confirmation")
    # The link is used up.
    page.goto(f"{url}/f/{token}/")
    assert page.get_by_text("This link no longer works").is_visible()
    context.close()
    wide = browser.new_context(viewport={"width": 1180, "height": 820})
    tablet = wide.new_page()
    checked_goto(tablet)
    tablet.goto(f"{url}/f/{token}/")
    screenshot(tablet, "followup-tablet-link-gone")

    # In the clinic: the physician who prescribed the series.
    sign_in(tablet, url, "physician")
    tablet.wait_for_url(f"{url}/worklist/today/")
    tablet.goto(f"{url}/worklist/")
    row = tablet.locator("tr", has_text="Homeworth")
    assert "Urgent" in row.inner_text()
    screenshot(tablet, "followup-worklist-urgent")
    row.get_by_role("link", name="Acknowledge").click()
    # The action taken is required (the browser will not send the form without it).
    assert tablet.locator("textarea").get_attribute("required") is not None
    tablet.fill("textarea", "Called Ada at home: safe, safety plan reviewed, seen tomorrow.")
    tablet.get_by_role("button", name="Acknowledge and take off the worklist").click()
    tablet.wait_for_url(f"{url}/worklist/")
    # Off the open list, under "Recently acknowledged" with the action taken.
    assert tablet.get_by_role("link", name="Acknowledge").count() == 0
    assert "safety plan reviewed" in tablet.inner_text("body")

    tablet.goto(f"{url}/outcomes/patient/{patient_id}/")
    body = tablet.inner_text("body")
    assert "Pain intensity" in body and "Baseline" in body
    screenshot(tablet, "followup-outcome-page")
    tablet.get_by_role("button", name="Accept").first.click()
    tablet.wait_for_load_state()
    if "/treatments/" in tablet.url:  # a booster or a trial: the new plan, its protocol chosen
        assert "protocol_id=" in tablet.url and "New treatment plan" in tablet.inner_text("body")
    else:
        assert "ccepted" in tablet.inner_text("body")
    screenshot(tablet, "followup-recommendation-accepted")
    wide.close()
