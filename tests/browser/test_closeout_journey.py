"""Issue 5 in the browser: the chart's waste step, cancelling a session before the start, and
the 24-hour report of a serious adverse event. Screenshots go to test-artifacts/screens/.

The sessions are brought to their starting points through the real services in the server's
own database before it starts (``_seed``), as in the infusion-day journey.
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
    """A stopped ketamine session with a serious adverse event, and a prepared one (bag drawn)."""
    import django

    django.setup()
    from decimal import Decimal

    import time_machine
    from django.utils import timezone

    from painclinic.web.accounts.models import User
    from painclinic.web.drugregister.services import ReceiptInput, do_record_receipt
    from painclinic.web.infusions import services
    from painclinic.web.infusions.inputs import AdverseEventInput, StartInput, StopInput
    from painclinic.web.infusions.models import InfusionSession
    from tests.conftest import make_patient
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

    from tests.conftest import actor_as as request

    do_record_receipt(
        request(nurse),
        ReceiptInput(
            drug="ketamine",
            concentration_mg_per_ml=Decimal("10"),
            vial_volume_ml=Decimal("10"),
            vial_count=20,
            lot="KC-2026",
            expiry_date=timezone.localdate() + dt.timedelta(days=300),
            supplier="Closeout supplier",
            reference="PO-C1",
        ),
    )

    def prepared(given: str, family: str) -> InfusionSession:
        patient = make_patient(given, family, date_of_birth=dt.date(1971, 5, 3))
        plan = make_plan(patient, physician, weight_kg=Decimal("80.0"))
        session = services.do_open_session(request(nurse), make_booking(plan, nurse).pk)

        def v() -> int:
            return InfusionSession.objects.get(pk=session.pk).version

        services.do_complete_checklist(request(nurse), session.pk, v(), checklist_input())
        services.do_prepare_bag(request(nurse), session.pk, v(), prep_input(vial_lot="KC-2026"))
        services.do_double_check(request(nurse2), session.pk, v(), check_input())
        return session

    start = timezone.now() - dt.timedelta(minutes=90)
    # Bag and double check charted before the start, each at its own time.
    with time_machine.travel(start - dt.timedelta(minutes=15), tick=True):
        stopped = prepared("Beatrice", "Closeout-Waste")

    def version(pk: int) -> int:
        return InfusionSession.objects.get(pk=pk).version

    services.do_start(request(nurse), stopped.pk, version(stopped.pk), StartInput(start))
    services.do_record_adverse_event(
        request(nurse),
        stopped.pk,
        version(stopped.pk),
        AdverseEventInput(
            occurred_at=start + dt.timedelta(minutes=20),
            event_type="hypotension",
            severity="severe",
            action_taken="Infusion paused, 500 mL saline, physician at the chair",
            outcome="resolved",
        ),
    )
    services.do_stop(
        request(nurse), stopped.pk, version(stopped.pk), StopInput(start + dt.timedelta(hours=1))
    )
    cancelled = prepared("Corinne", "Closeout-Cancel")
    return {
        "stopped": stopped.pk,
        "prepared": cancelled.pk,
        "witness_id": nurse2.pk,
        "day": timezone.localdate().isoformat(),
    }


@pytest.fixture(scope="module")
def closeout_server(tmp_path_factory) -> Iterator[tuple[str, dict]]:
    data_dir = tmp_path_factory.mktemp("closeout-journey")
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
            "import json; from tests.browser.test_closeout_journey import _seed; "
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


def test_waste_step_cancellation_and_sae_report(page, closeout_server):
    base, seed = closeout_server
    stopped = f"{base}/infusions/{seed['stopped']}/"
    prepared = f"{base}/infusions/{seed['prepared']}/"

    # 1. The stopped session: drawn 100 mg, delivered 25 mg, 75 mg to waste, serious AE due.
    sign_in(page, base, "nurse")
    page.goto(stopped)
    waste = page.inner_text("section[aria-label='Controlled-drug waste']")
    assert "Drawn 100 mg" in waste and "75 mg to waste" in waste
    assert "report due by" in page.inner_text("section[aria-label='Adverse events']")
    shot(page, "closeout-1-waste-step")
    page.select_option("#id_witness", str(seed["witness_id"]))
    page.fill("#id_witness_password", "not-the-password")
    page.click("section[aria-label='Controlled-drug waste'] button[type=submit]")
    page.wait_for_load_state()
    assert "password is not correct" in page.inner_text("main")
    page.goto(stopped)
    page.select_option("#id_witness", str(seed["witness_id"]))
    page.fill("#id_witness_password", DEMO_PASSWORD)
    page.click("section[aria-label='Controlled-drug waste'] button[type=submit]")
    page.wait_for_load_state()
    assert "75 mg wasted, witnessed by" in page.inner_text(".messages")

    # 2. The physician marks the serious adverse event reported from the list of reports due.
    sign_in(page, base, "physician")
    page.click("nav >> text=SAE reports due")
    assert "Closeout-Waste" in page.inner_text("main")
    page.click("text=Mark reported")
    page.fill("#id_reference", "CPSO OHP report 2026-0173 (faxed)")
    page.click("button:has-text('Mark reported')")
    page.wait_for_load_state()
    assert "No serious adverse event awaits its report" in page.inner_text("main")
    page.goto(stopped)
    events = page.inner_text("section[aria-label='Adverse events']")
    assert "reported" in events and "CPSO OHP report 2026-0173" in events
    shot(page, "closeout-2-sae-reported")

    # 3. The nurse cancels the prepared session: the drawn bag is wasted in the same step.
    sign_in(page, base, "nurse")
    page.goto(prepared)
    page.click(".inf-actions >> text=Cancel the session")
    assert "100 mg of ketamine was drawn" in page.inner_text("main")
    page.check("input[name=reason][value=no_escort]")
    page.fill("#id_detail", "Driver cancelled; no one else available")
    page.select_option("#id_witness", str(seed["witness_id"]))
    page.fill("#id_witness_password", DEMO_PASSWORD)
    shot(page, "closeout-3-cancel-form")
    page.click("form.inf-form button[type=submit]")
    page.wait_for_load_state()
    assert "Session cancelled" in page.inner_text(".inf-cancelled")
    shot(page, "closeout-4-cancelled-chart")
    page.goto(f"{base}/scheduling/board/?date={seed['day']}")
    assert "Closeout-Cancel" in page.inner_text(".board-cancelled")
    shot(page, "closeout-5-board-cancelled")
