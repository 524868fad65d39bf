"""From the signed note to the receipt, in the browser (issue 13).

The nurse signs the infusion note; billing issues the invoice from the signed session, takes a
partial payment and then the balance, and prints the receipt, whose PDF text is checked and
whose first page is rendered to PNG under test-artifacts/ (looked at by hand).

The infusion up to the discharge and the witnessed waste is charted through the services in the
server's own database before it starts (``_seed``): the infusion journey drives those pages.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import DEMO_PASSWORD, screenshot, serving, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def _seed() -> dict:
    """Runs inside the server's environment: a patient whose ketamine infusion today has been
    given, recovered from and discharged, its leftover drug wasted; the note is not signed."""
    import django

    django.setup()
    from decimal import Decimal

    from django.utils import timezone

    from painclinic.web.accounts.models import User
    from painclinic.web.drugregister.services import ReceiptInput, do_record_receipt
    from painclinic.web.infusions import services
    from painclinic.web.infusions.services import StopInput, WasteRemainderInput
    from tests.conftest import actor_as, make_patient
    from tests.web.infusions.conftest import (
        charted_at,
        discharge_input,
        fresh,
        make_booking,
        make_plan,
        recovery_round,
        run_to,
    )

    nurse = User.objects.get(username="nurse")
    nurse2 = User.objects.get(username="nurse2")
    physician = User.objects.get(username="physician")
    patient = make_patient(
        "Evelyn",
        "Marchetti-Billing",
        date_of_birth=dt.date(1971, 6, 3),
        address_line="12 Harbour Street",
        city="Toronto",
        postal_code="M5J 2N8",
    )
    plan = make_plan(patient, physician, weight_kg=Decimal("80.0"))
    booking = make_booking(plan, nurse)
    do_record_receipt(
        actor_as(nurse),
        ReceiptInput(
            drug="ketamine",
            concentration_mg_per_ml=Decimal("10"),
            vial_volume_ml=Decimal("10"),
            vial_count=20,
            lot="KX123",
            expiry_date=timezone.localdate() + dt.timedelta(days=300),
            supplier="Journey supplier",
            reference="PO-B1",
        ),
    )
    session = services.do_open_session(actor_as(nurse), booking.pk)
    now = timezone.now()
    start = now - dt.timedelta(minutes=100)
    session = run_to(session, "running", nurse, nurse2, start_at=start)
    stop = start + dt.timedelta(minutes=50)
    with charted_at(stop):
        s = fresh(session)
        services.do_stop(actor_as(nurse), s.pk, s.version, StopInput(stop))
    recovery_round(session, nurse, stop + dt.timedelta(minutes=30))
    s = fresh(session)
    services.do_discharge(
        actor_as(nurse), s.pk, s.version, discharge_input(stop + dt.timedelta(minutes=31))
    )
    s = fresh(session)
    services.do_waste_remainder(
        actor_as(nurse),
        s.pk,
        s.version,
        WasteRemainderInput(witness=nurse2.pk, witness_password=DEMO_PASSWORD),
    )
    return {"session_id": session.pk, "patient_id": patient.pk}


@pytest.fixture(scope="module")
def billing_server(tmp_path_factory) -> Iterator[tuple[str, dict]]:
    data_dir = tmp_path_factory.mktemp("billing-journey")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PAINCLINIC_ENV": "development",
        "PAINCLINIC_DATA_DIR": str(data_dir),
        "PAINCLINIC_CLINIC_HST_NUMBER": "123456789 RT0001",
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
            "import json; from tests.browser.test_billing_journey import _seed; "
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


def money(text: str) -> int:
    """'$1,234.56' -> 123456 cents."""
    match = re.search(r"\$([\d,]+)\.(\d\d)", text)
    assert match, text
    return int(match.group(1).replace(",", "")) * 100 + int(match.group(2))


def test_signed_note_to_paid_receipt(page, billing_server):
    from tests.web.pdfs import pdf_page_png, pdf_text

    base, seed = billing_server
    # 1. The nurse signs the note.
    sign_in(page, base, "nurse")
    chart = f"{base}/infusions/{seed['session_id']}/"
    page.goto(chart)
    page.click(".inf-actions >> text=Write and sign the note")
    page.click("button[name=sign]")
    page.wait_for_load_state()
    assert "Signed by" in page.inner_text(".inf-signed")

    # 2. Billing finds the session to invoice on its first screen and issues the invoice.
    sign_in(page, base, "billing")
    page.goto(f"{base}/billing/")
    assert "Marchetti-Billing" in page.inner_text("main")
    screenshot(page, "billing-01-worklist")
    page.goto(f"{base}/billing/patients/{seed['patient_id']}/")
    screenshot(page, "billing-02-account")
    page.get_by_label("Ketamine infusion, session 1", exact=False).check()
    page.click("button:has-text('Issue the invoice')")
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert re.search(r"INV-\d{6}", main), main
    total = money(page.inner_text("table.totals tr.grand:has-text('Total') td"))
    assert total > 0
    screenshot(page, "billing-02-invoice")

    # 3. A partial payment, then the balance.
    partial = 20_000
    page.fill("#id_pay-amount_cents", "200.00")
    page.select_option("#id_pay-method", "cash")
    page.click("button:has-text('Record the payment')")
    page.wait_for_load_state()
    assert money(page.inner_text("table.totals tr:has-text('Balance') td")) == total - partial
    page.fill("#id_pay-amount_cents", f"{(total - partial) / 100:.2f}")
    page.select_option("#id_pay-method", "debit")
    page.click("button:has-text('Record the payment')")
    page.wait_for_load_state()
    assert money(page.inner_text("table.totals tr:has-text('Balance') td")) == 0
    screenshot(page, "billing-03-paid")

    # 4. The receipt: a PDF whose text a claims clerk would look for.
    link = page.get_attribute("a:has-text('Print receipt')", "href")
    assert link
    response = page.request.get(f"{base}{link}" if link.startswith("/") else link)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    text = pdf_text(pdf)
    for expected in (
        "Receipt",
        "Evelyn Marchetti-Billing",
        "Ketamine",
        "Cash",
        "Debit",
        "Not covered by OHIP".lower(),
    ):
        assert expected.lower() in text.lower(), expected
    assert re.search(r"Balance( due)?\s*\$0\.00", text), text
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "billing-04-receipt.png").write_bytes(pdf_page_png(pdf))
