"""A patient at home on a phone (390 x 844): the reminder's link, every question one per
screen, the review and the confirmation (crisis resources when PHQ-9 item 9 is above 0)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.browser.conftest import DEMO_PASSWORD, screenshot, serving

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
point = FollowUpTimePoint.objects.get(patient=patient, key="week_1")
print("TOKEN", do_issue_link(actor, point.pk).token)
"""


@pytest.fixture(scope="module")
def link_server(tmp_path_factory) -> Iterator[tuple[str, str]]:
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
    token = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("TOKEN"))
    with serving(data_dir, env) as url:
        yield url, token


def test_a_patient_answers_on_a_phone_from_the_reminder_link(browser, link_server):
    url, token = link_server
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{url}/f/{token}/")
    assert page.get_by_text("Question 1 of 25").is_visible()
    screenshot(page, "followup-phone-question-1")
    for number in range(1, 26):
        # htmx swaps the next screen in without a page load: wait for it.
        page.get_by_text(f"Question {number} of 25", exact=True).wait_for(timeout=10000)
        choices = page.locator(".fu-choice")
        if number == 23:  # PHQ-9 item 9: "several days"
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
    tablet.goto(f"{url}/f/{token}/")
    screenshot(tablet, "followup-tablet-link-gone")
    wide.close()
