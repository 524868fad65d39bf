"""A nurse runs an infusion day end to end in the browser (issue 5, item 6).

Checklist; bag preparation with an independent double check that first mismatches (and blocks
the start), then matches; a start charted an hour back, before the double check, refused; the
start now; observations with explicit times; a hypertension observation raising an alert
acknowledged with a rate reduction; an incomplete round; stop; discharge refused until a
recovery round is charted, then on the Aldrete; signed note. Screenshots of the chart at each
stage go to test-artifacts/.

The server runs with a clinic policy directory whose ketamine minimum recovery time is 0 min
(the packaged default is 30): the journey charts in real time and cannot wait half an hour.
The 30-min default is tested in tests/web/infusions/test_recovery.py.

The plan and booking are made with the ORM in the server's own database before it starts
(``_seed``), since the plan and booking pages belong to other areas.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import DEMO_PASSWORD, screenshot, serving, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CLINIC_TZ = ZoneInfo("America/Toronto")


def _seed() -> dict:
    """Runs inside the server's environment: a patient, an active ketamine plan, a booking for
    today, vials in the drug register, and the opened infusion session."""
    import django

    django.setup()
    from decimal import Decimal

    from django.utils import timezone

    from painclinic.web.accounts.models import User
    from painclinic.web.infusions.services import do_open_session
    from tests.conftest import actor_as, make_patient
    from tests.web.infusions.conftest import make_booking, make_plan

    nurse = User.objects.get(username="nurse")
    physician = User.objects.get(username="physician")
    patient = make_patient("Margaret", "Okonkwo-Journey", date_of_birth=dt.date(1968, 2, 9))
    plan = make_plan(patient, physician, weight_kg=Decimal("80.0"))
    booking = make_booking(plan, nurse)
    request = actor_as(nurse)
    from painclinic.web.drugregister.services import ReceiptInput, do_record_receipt

    do_record_receipt(
        request,
        ReceiptInput(
            drug="ketamine",
            concentration_mg_per_ml=Decimal("10"),
            vial_volume_ml=Decimal("10"),
            vial_count=20,
            lot="KJ-2026",
            expiry_date=timezone.localdate() + dt.timedelta(days=300),
            supplier="Journey supplier",
            reference="PO-J1",
        ),
    )
    session = do_open_session(request, booking.pk)
    witness = User.objects.get(username="nurse2")
    return {"session_id": session.pk, "witness_id": witness.pk}


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    data_dir = tmp_path_factory.mktemp("infusion-journey")
    policy_dir = data_dir / "policy"
    policy_dir.mkdir()
    thresholds = json.loads(
        (ROOT / "src/painclinic/clinical/data/monitoring_thresholds.json").read_text()
    )
    thresholds["recovery"]["min_recovery_min"]["ketamine"]["value"] = 0
    (policy_dir / "monitoring_thresholds.json").write_text(json.dumps(thresholds))
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PAINCLINIC_ENV": "development",
        "PAINCLINIC_DATA_DIR": str(data_dir),
        "PAINCLINIC_CLINICAL_POLICY_DIR": str(policy_dir),
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
            "import json; from tests.browser.test_infusion_journey import _seed; "
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


def local(at: dt.datetime) -> str:
    return at.astimezone(CLINIC_TZ).strftime("%Y-%m-%dT%H:%M")


def submit(page) -> None:
    page.click("form.inf-form button[type=submit]")
    page.wait_for_load_state()


def fill_dose(page, *, pump: str, lot: str | None = None) -> None:
    page.select_option("#id_drug", "ketamine")
    if lot is not None:
        page.select_option("#id_vial_concentration_mg_per_ml", "10")
        page.fill("#id_drawn_mg", "100")
        page.fill("#id_vial_lot", lot)
    page.select_option("#id_bag_concentration_mg_per_ml", "1")
    page.fill("#id_dose_value", "25")
    page.select_option("#id_dose_unit", "mg/h")
    page.fill("#id_pump_rate_entered_ml_per_h", pump)


def observe(
    page, chart: str, at: dt.datetime, sbp: int = 128, dbp: int = 78, spo2: str = "97",
    cadss: str = "",
) -> None:  # fmt: skip
    page.goto(f"{chart}observe/")
    page.fill("#id_observed_at", local(at))
    page.fill("#id_systolic_bp_mmhg", str(sbp))
    page.fill("#id_diastolic_bp_mmhg", str(dbp))
    page.fill("#id_heart_rate_bpm", "76")
    page.fill("#id_respiratory_rate_per_min", "14")
    page.fill("#id_spo2_percent", spo2)
    page.select_option("#id_rass", "0")
    page.fill("#id_cadss6", cadss)
    page.fill("#id_pain_nrs", "5")
    submit(page)


def test_nurse_runs_an_infusion_day(page, journey_server):
    base, seed = journey_server
    chart = f"{base}/infusions/{seed['session_id']}/"
    now = dt.datetime.now(dt.UTC)

    # 1. Checklist.
    sign_in(page, base, "nurse")
    page.goto(chart)
    assert page.inner_text(".ptb .ptb-name") == "OKONKWO-JOURNEY, Margaret"
    assert "KETAMINE" in page.inner_text(".inf-banner")
    screenshot(page, "infusion-01-chart-scheduled")
    page.click(".inf-actions >> text=Complete the pre-infusion checklist")
    page.fill("#id_systolic_bp_mmhg", "0")  # a BP of 0 is refused on the field
    page.fill("#id_diastolic_bp_mmhg", "78")
    page.fill("#id_heart_rate_bpm", "72")
    page.fill("#id_respiratory_rate_per_min", "14")
    page.fill("#id_spo2_percent", "98")
    page.fill("#id_weight_kg", "80.4")
    page.fill("#id_escort_name", "Daniel Okonkwo")
    page.fill("#id_escort_phone", "416-555-0199")
    page.fill("#id_last_solids_at", local(now - dt.timedelta(hours=9)))
    page.fill("#id_last_clear_fluids_at", local(now - dt.timedelta(hours=3)))
    page.check("#id_no_new_conditions_confirmed")
    submit(page)
    assert "not possible" in page.inner_text(".has-error .field-error")
    screenshot(page, "infusion-02-checklist-bp-zero")
    page.fill("#id_systolic_bp_mmhg", "132")
    submit(page)
    assert "Checklist passed" in page.inner_text(".messages")

    # 2. Bag preparation (nurse 1), then a double check with a mismatch (nurse 2).
    page.click(".inf-actions >> text=Prepare the bag")
    assert "tenfold" in page.inner_text(".inf-danger")
    screenshot(page, "infusion-03-prepare")
    fill_dose(page, pump="25", lot="KJ-2026")
    submit(page)
    assert "second nurse" in page.inner_text(".messages")

    sign_in(page, base, "nurse2")
    page.goto(chart)
    page.click(".inf-actions >> text=Independent double check")
    html = page.content()
    assert "KJ-2026" not in html and 'value="25"' not in html  # blind
    screenshot(page, "infusion-04-double-check-blind")
    fill_dose(page, pump="250")  # a tenfold pump entry
    submit(page)
    assert "MISMATCH" in page.inner_text(".messages")
    assert "250 mL/h" in page.inner_text(".inf-mismatch")
    screenshot(page, "infusion-05-mismatch-blocks")
    # The start is blocked: the next action is a new bag, and the start page refuses.
    assert page.locator("text=Start the infusion").count() == 0
    sign_in(page, base, "nurse")
    page.goto(f"{chart}start/")
    submit(page)
    assert "Cannot start" in page.inner_text(".errors")

    # 3. A new bag and a matching double check.
    page.goto(chart)
    page.click(".inf-actions >> text=Prepare the bag")
    fill_dose(page, pump="25", lot="KJ-2026")
    submit(page)
    sign_in(page, base, "nurse2")
    page.goto(f"{chart}double-check/")
    fill_dose(page, pump="25")
    submit(page)
    assert "matches" in page.inner_text(".messages")

    # 4. Start now: the bag was double-checked a moment ago, and a start is never charted
    # before its bag's double check (an hour back is refused). Observations at the start.
    sign_in(page, base, "nurse")
    page.goto(chart)
    page.click(".inf-actions >> text=Start the infusion")
    page.fill("#id_at", local(now - dt.timedelta(minutes=65)))
    submit(page)
    assert "before the bag's double check" in page.inner_text(".has-error .field-error")
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    page.fill("#id_at", local(start))
    submit(page)
    assert "Set the pump to 25 mL/h" in page.inner_text(".messages")
    screenshot(page, "infusion-06-running")
    for _ in range(2):
        observe(page, chart, start)
        assert "Observation recorded" in page.inner_text(".messages")
    screenshot(page, "infusion-07-observations")
    # The rest is charted a minute on (no later: a time more than a minute ahead is refused).
    later = local(start + dt.timedelta(minutes=1))

    # 5. Hypertension raises an alert; it blocks the stop until acknowledged.
    observe(page, chart, start, sbp=190, dbp=102)
    assert "ALERT" in page.inner_text(".messages")
    alerts = page.inner_text(".inf-alerts")
    assert "Systolic blood pressure above 180 mmHg" in alerts
    assert "Diastolic blood pressure above 100 mmHg" in alerts
    assert "above the patient's pre-infusion value" in alerts  # 190 is 44% above 132
    screenshot(page, "infusion-08-alert")
    page.goto(f"{chart}stop/")
    submit(page)
    assert "not acknowledged" in page.inner_text(".errors")
    page.goto(chart)
    page.click(".inf-alert >> text=Acknowledge")
    page.check("input[name=response][value=reduce_rate]")
    page.fill("#id_dose_value", "15")
    page.select_option("#id_dose_unit", "mg/h")
    page.fill("#id_action_taken", "BP 188/100 on recheck; Dr informed, rate reduced")
    page.fill("#id_at", later)
    submit(page)
    assert "Alert acknowledged" in page.inner_text(".messages")
    assert page.locator(".inf-alerts").count() == 0
    assert "15 mg/h" in page.inner_text("section[aria-label=Dose]")
    screenshot(page, "infusion-09-rate-reduced")

    # 5b. A round without SpO2 asks for it; ticked as incomplete it is charted so.
    observe(page, chart, start + dt.timedelta(minutes=1), spo2="")
    assert "Enter the SpO2" in page.inner_text(".has-error .field-error")
    assert "Light-headedness or dizziness" in page.inner_text("form.inf-form")
    screenshot(page, "infusion-09a-observe-missing-spo2")
    page.check("#id_incomplete_ok")
    submit(page)
    assert "incomplete round" in page.inner_text(".messages")
    observations = page.inner_text("section[aria-label=Observations]")
    assert "not measured" in observations and "record SpO2" in observations
    screenshot(page, "infusion-09a-incomplete-round")

    # 6. Stop; discharge refused until a recovery round is charted, then on the Aldrete;
    # signed note.
    page.goto(f"{chart}stop/")
    page.fill("#id_at", later)
    submit(page)
    assert "Infusion stopped" in page.inner_text(".messages")
    recovery = page.inner_text("section[aria-label=Recovery]")
    assert "A full set of observations recorded after the infusion stopped" in recovery
    assert "Dissociation resolved" in recovery
    screenshot(page, "infusion-09b-recovery")
    page.click(".inf-actions >> text=Discharge")
    assert "Still needed before discharge" in page.inner_text(".inf-recovery")
    screenshot(page, "infusion-09c-discharge-form")

    def fill_discharge(consciousness: str) -> None:
        page.fill("#id_at", later)
        for item in ("activity", "respiration", "circulation", "oxygen_saturation"):
            page.select_option(f"#id_{item}", "2")
        page.select_option("#id_consciousness", consciousness)
        for item in ("activity", "nausea_vomiting", "pain", "bleeding"):
            page.select_option(f"#id_padss_{item}", "2")
        page.check("#id_escort_confirmed")
        submit(page)

    fill_discharge("2")
    assert "A full set of observations recorded after the infusion stopped" in page.inner_text(
        ".errors"
    )
    page.goto(chart)
    page.click(".inf-actions >> text=Record a recovery observation")
    observe(page, chart, start + dt.timedelta(minutes=1), cadss="0")
    assert "Observation recorded" in page.inner_text(".messages")
    assert "recovery" in page.inner_text("section[aria-label=Observations]")
    page.click(".inf-actions >> text=Discharge")
    fill_discharge("0")
    # refused on the Aldrete's first item, the field the nurse corrects
    assert "Modified Aldrete 9 or more of 10 (now 8)" in page.inner_text(".has-error .field-error")
    page.select_option("#id_consciousness", "2")
    submit(page)
    assert "Discharged with Daniel Okonkwo" in page.inner_text(".messages")
    assert "PADSS 10/10" in page.inner_text(".messages")
    screenshot(page, "infusion-10-discharged")
    # 7. The ketamine left over (two bags drawn, one failed its double check) is wasted with a
    # witness before the note can be signed.
    waste = page.inner_text("section[aria-label='Controlled-drug waste']")
    assert "Drawn 200 mg" in waste and "to waste" in waste
    page.click(".inf-actions >> text=Write and sign the note")
    text = page.input_value("#id_text")
    assert "Delivered" in text and "Alert pause" in text
    page.click("button[name=sign]")
    page.wait_for_load_state()
    assert "not wasted" in page.inner_text(".errors")
    page.goto(chart)
    page.select_option("#id_witness", str(seed["witness_id"]))
    page.fill("#id_witness_password", DEMO_PASSWORD)
    page.click("section[aria-label='Controlled-drug waste'] button[type=submit]")
    page.wait_for_load_state()
    assert "witnessed by" in page.inner_text(".messages")
    assert "nothing left to waste" in page.inner_text("section[aria-label='Controlled-drug waste']")
    screenshot(page, "infusion-10b-wasted")
    page.click(".inf-actions >> text=Write and sign the note")
    page.click("button[name=sign]")
    page.wait_for_load_state()
    assert "Signed by" in page.inner_text(".inf-signed")
    page.fill("#id_text", "Pain NRS 5 throughout (omitted above).")
    page.fill("#id_reason", "Omission")
    page.click("button:has-text('Sign the amendment')")
    page.wait_for_load_state()
    page.goto(f"{chart}note/")
    assert "Amendment 1" in page.inner_text("main")
    screenshot(page, "infusion-11-signed-note")
    page.goto(chart)
    screenshot(page, "infusion-12-chart-signed")
