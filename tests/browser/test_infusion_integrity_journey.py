"""Issue 10, item 1 in the browser: one infusion per patient, a chart opened on its booking's
day, charted times in order, late entries marked. Screenshots go to test-artifacts/screens/.

The server's database is seeded through the real services before it starts (``_seed``), each
step charted at its own time (time_machine in the seeding process only): Ada's first
infusion started an hour ago, with an observation charted on time and one charted late; her
second booking today (another chair) has its bag double-checked; a third booking is tomorrow.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, DEMO_PASSWORD, serving, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


def _seed() -> dict:
    import django

    django.setup()
    from decimal import Decimal

    import time_machine
    from django.utils import timezone

    from painclinic.web.accounts.models import User
    from painclinic.web.drugregister.services import ReceiptInput, do_record_receipt
    from painclinic.web.infusions import services
    from painclinic.web.infusions.inputs import ObservationInput, StartInput
    from painclinic.web.infusions.models import InfusionSession
    from painclinic.web.lib.clinictime import to_utc
    from tests.conftest import actor_as, make_patient
    from tests.web.infusions.conftest import (
        check_input,
        checklist_input,
        make_booking,
        make_plan,
        prep_input,
    )

    nurse = User.objects.get(username="nurse")
    nurse2 = User.objects.get(username="nurse2")
    physician = User.objects.get(username="physician")
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - dt.timedelta(minutes=60)

    def travel(at: dt.datetime) -> time_machine.travel:
        return time_machine.travel(at, tick=True)

    def version(pk: int) -> int:
        return InfusionSession.objects.get(pk=pk).version

    def prepared(session: InfusionSession, reason: str = "") -> None:
        services.do_complete_checklist(
            actor_as(nurse), session.pk, version(session.pk), checklist_input()
        )
        services.do_prepare_bag(
            actor_as(nurse), session.pk, version(session.pk), prep_input(vial_lot="KI-2026")
        )
        services.do_double_check(
            actor_as(nurse2), session.pk, version(session.pk), check_input(limit_reason=reason)
        )

    def vitals(at: dt.datetime) -> ObservationInput:
        return ObservationInput(
            observed_at=at,
            systolic_bp_mmhg=124,
            diastolic_bp_mmhg=76,
            heart_rate_bpm=70,
            respiratory_rate_per_min=14,
            spo2_percent=98,
            rass=0,
            pain_nrs=6,
        )

    with travel(start - dt.timedelta(minutes=20)):
        do_record_receipt(
            actor_as(nurse),
            ReceiptInput(
                drug="ketamine",
                concentration_mg_per_ml=Decimal("10"),
                vial_volume_ml=Decimal("10"),
                vial_count=20,
                lot="KI-2026",
                expiry_date=timezone.localdate() + dt.timedelta(days=300),
                supplier="Integrity supplier",
                reference="PO-I1",
            ),
        )
        patient = make_patient("Ada", "Integrity-Journey", date_of_birth=dt.date(1969, 4, 2))
        plan = make_plan(patient, physician, weight_kg=Decimal("80.0"))
        first = services.do_open_session(
            actor_as(nurse),
            make_booking(plan, nurse, 1, starts_at=start - dt.timedelta(minutes=10)).pk,
        )
        prepared(first)
        # The same patient's second booking today, in another chair: its chart is opened
        # before the first infusion starts (not after: one infusion at a time).
        second = services.do_open_session(
            actor_as(nurse),
            make_booking(
                plan, nurse, 2, starts_at=now - dt.timedelta(minutes=20), chair="Chair 2"
            ).pk,
        )
    with travel(start):
        services.do_start(actor_as(nurse), first.pk, version(first.pk), StartInput(start))
    on_time = start + dt.timedelta(minutes=15)
    with travel(on_time + dt.timedelta(minutes=1)):
        services.do_record_observation(
            actor_as(nurse), first.pk, version(first.pk), vitals(on_time)
        )
    late = start + dt.timedelta(minutes=30)
    with travel(now - dt.timedelta(minutes=2)):  # charted 28 minutes after it was taken
        services.do_record_observation(actor_as(nurse), first.pk, version(first.pk), vitals(late))
    # Its bag double-checked now: with the first infusion's 25 mg, above ketamine's 24-hour
    # soft limit, so the second nurse gave a reason.
    prepared(second, "Second session today on the physician's order")
    tomorrow = make_booking(
        plan,
        nurse,
        3,
        starts_at=to_utc(timezone.localdate() + dt.timedelta(days=1), dt.time(9, 0)),
        chair="Chair 3",
    )
    return {
        "first": first.pk,
        "second": second.pk,
        "tomorrow": tomorrow.pk,
        "tomorrow_day": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
        "late_at": timezone.localtime(late).strftime("%H:%M"),
        "started_at": timezone.localtime(start).strftime("%H:%M"),
    }


@pytest.fixture(scope="module")
def integrity_server(tmp_path_factory) -> Iterator[tuple[str, dict]]:
    data_dir = tmp_path_factory.mktemp("integrity-journey")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PAINCLINIC_ENV": "development",
        "PAINCLINIC_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
        "PYTHONPATH": str(ROOT),
    }
    cli = [sys.executable, "-m", "painclinic.cli"]
    subprocess.run(
        [*cli, "demo", "--password", DEMO_PASSWORD, "--patients", "4"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    seeded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from tests.browser.test_infusion_integrity_journey import _seed; "
            "print(json.dumps(_seed()))",
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    with serving(data_dir, env) as url:
        yield url, seed


def shot(page, name: str) -> None:
    folder = ARTIFACTS / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_one_infusion_at_a_time_and_late_entries(page, integrity_server):
    base, seed = integrity_server
    first = f"{base}/infusions/{seed['first']}/"
    second = f"{base}/infusions/{seed['second']}/"

    # 1. The running chart: the observation charted 28 minutes late says so, in its row and
    # in the record; the one charted on time does not.
    sign_in(page, base, "nurse")
    page.goto(first)
    rows = page.inner_text("section[aria-label=Observations]")
    assert f"{seed['late_at']}\nlate entry, charted at" in rows
    assert rows.count("late entry") == 1
    assert "late entry, charted at" in page.inner_text("section[aria-label=Record]")
    shot(page, "integrity-1-late-entry")

    # 2. The second bag of the same patient, double-checked: its start is refused, naming the
    # chair and the time of the infusion that runs.
    page.goto(f"{second}start/")
    page.click("form.inf-form button[type=submit]")
    page.wait_for_load_state()
    errors = page.inner_text(".errors")
    assert "Another infusion of this patient is running: Chair 1" in errors
    assert f"started {seed['started_at']}" in errors
    shot(page, "integrity-2-second-start-refused")

    # 3. Tomorrow's booking: the nurse's "Open chart" on tomorrow's board is refused, naming
    # the day, and the booking page offers the nurse no other way.
    page.goto(f"{base}/scheduling/board/?date={seed['tomorrow_day']}")
    card = page.locator("td.card-cell", has_text="Integrity-Journey")
    card.get_by_role("button", name="Open chart").click()
    page.wait_for_load_state()
    refused = page.inner_text(".errors")
    assert seed["tomorrow_day"] in refused and "a physician opens the chart" in refused
    shot(page, "integrity-3-tomorrow-refused")
    page.goto(f"{base}/scheduling/bookings/{seed['tomorrow']}/")
    assert "Not opened yet" in page.inner_text("main")
    assert "Open the chart on another day" not in page.inner_text("main")

    # ...a physician opens it with a reason (here refused while the first infusion runs).
    sign_in(page, base, "physician")
    page.goto(f"{base}/scheduling/bookings/{seed['tomorrow']}/")
    page.click("text=Open the chart on another day")
    page.fill("#id_reason", "Escort only free today; agreed with the patient")
    shot(page, "integrity-4-open-on-another-day")
    page.click("form.inf-form button[type=submit]")
    page.wait_for_load_state()
    assert "One infusion at a time" in page.inner_text(".errors")
    shot(page, "integrity-5-open-refused-while-running")
