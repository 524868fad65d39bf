"""Screenshots of the chair board, booking pages and the drug register at a 1180x820 tablet.

Usage: .venv/bin/python -m tests.web.scheduling.screens [OUTPUT_DIR]
(default test-artifacts/screens). Serves a scratch demo database and drives Debian's chromium.
Not a test: nothing runs on import.
"""

from __future__ import annotations


def _seed() -> dict[str, str]:
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from painclinic.web.accounts.models import User
    from painclinic.web.demo.scheduling import load_chairs
    from painclinic.web.drugregister.services import (
        CountInput,
        ReceiptInput,
        do_record_count,
        do_record_draw,
        do_record_receipt,
        do_record_waste,
    )
    from painclinic.web.infusions.models import InfusionSession
    from painclinic.web.lib.service import Actor, Channel
    from painclinic.web.patients.models import Patient
    from tests.web.scheduling.factories import make_booking, make_plan, make_session

    chairs = load_chairs()
    physician = User.objects.get(username="physician")
    desk = User.objects.get(username="frontdesk")
    nurse = User.objects.get(username="nurse")
    day = timezone.localdate()
    while day.weekday() > 4:
        day += dt.timedelta(days=1)
    patients = list(Patient.objects.filter(portal_user__isnull=True).order_by("pk")[:8])
    layout = [
        (0, "08:00", 240, "signed"),
        (0, "12:30", 240, None),
        (1, "08:30", 240, "running"),
        (1, "13:00", 180, "prepared"),
        (2, "09:00", 240, "checklist_done"),
        (2, "13:30", 60, "paused"),
        (3, "10:00", 240, None),
    ]
    sessions = []
    for (chair_index, start, minutes, status), patient in zip(layout, patients, strict=False):
        plan = make_plan(patient, physician, sessions=5, duration_min=minutes)
        booking = make_booking(patient, chairs[chair_index], desk, day, start, minutes, plan, 2)
        if status:
            session = make_session(booking)
            InfusionSession.objects.filter(pk=session.pk).update(status=status)
            sessions.append(session)
    unbooked = make_plan(patients[7], physician, sessions=5, duration_min=240)

    request = Actor.for_user(nurse, Channel.CLI, "screens")
    expiry = day + dt.timedelta(days=400)
    for conc, volume, vials, lot in [("10", "5", 20, "KT10-2291"), ("50", "10", 10, "KT50-1187")]:
        do_record_receipt(
            request,
            ReceiptInput(
                concentration_mg_per_ml=conc,
                vial_volume_ml=Decimal(volume),
                vial_count=vials,
                lot=lot,
                expiry_date=expiry,
                supplier="Sandoz Canada",
                reference="PO-55102",
            ),
        )
    InfusionSession.objects.filter(pk=sessions[1].pk).update(status="prepared")
    session = InfusionSession.objects.get(pk=sessions[1].pk)
    do_record_draw(request, session, concentration_mg_per_ml="10", amount_mg="100", lot="KT10-2291")
    do_record_waste(
        request,
        session,
        concentration_mg_per_ml="10",
        amount_mg="20",
        witness=User.objects.get(username="nurse2"),
        witness_password=PASSWORD,
        reason="Remainder after the bag was made up",
    )
    InfusionSession.objects.filter(pk=sessions[1].pk).update(status="running")
    do_record_count(
        request,
        CountInput(concentration_mg_per_ml="50", full_vials=9, vial_volume_ml=Decimal("10")),
    )
    from painclinic.web.demo.scheduling import load_holidays

    load_holidays([day.year, day.year + 1])
    booking = sessions[1].booking
    return {
        "session": str(sessions[1].pk),
        "day": day.isoformat(),
        "booking": str(booking.pk),
        "patient": str(booking.patient_id),
        "plan": str(unbooked.pk),
    }


PASSWORD = "screenshot-password-2026"


def main() -> None:
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile
    import time
    import urllib.request
    from pathlib import Path

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/screens")
    out.mkdir(parents=True, exist_ok=True)
    data_dir = tempfile.mkdtemp(prefix="painclinic-sched-screens-")
    env = {**os.environ, "PAINCLINIC_ENV": "development", "PAINCLINIC_DATA_DIR": data_dir}
    env.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "painclinic.cli"]
    subprocess.run([*cli, "demo", "--password", PASSWORD, "--patients", "20"], env=env, check=True)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "painclinic.web.settings"
    import django

    django.setup()
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from painclinic.web.accounts.models import User

    ids = _seed()
    admin = User.objects.get(username="clinicadmin")
    device, _ = TOTPDevice.objects.get_or_create(user=admin, name="screens", confirmed=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - localhost
            break
        except OSError:
            time.sleep(0.3)
    from playwright.sync_api import sync_playwright

    shots = {
        "nurse": [
            ("sched-board", f"/scheduling/board/?date={ids['day']}", False),
            ("sched-board-fold", f"/scheduling/board/?date={ids['day']}", True),
            ("sched-booking-nurse", f"/scheduling/bookings/{ids['booking']}/", False),
            ("register-home", "/drug-register/", False),
            ("register-count", "/drug-register/count/", False),
            ("register-receive", "/drug-register/receive/", False),
            ("register-waste", f"/drug-register/sessions/{ids['session']}/waste/", False),
            ("register-destroy", "/drug-register/destroy/", False),
        ],
        "frontdesk": [
            ("sched-patient", f"/scheduling/patients/{ids['patient']}/", False),
            ("sched-booking-desk", f"/scheduling/bookings/{ids['booking']}/", False),
        ],
        "physician": [
            ("register-discrepancies", "/drug-register/discrepancies/", False),
            ("register-entries", "/drug-register/entries/", False),
        ],
        "clinicadmin": [("sched-chairs", "/scheduling/chairs/", False)],
    }
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for username, pages in shots.items():
                context = browser.new_context(viewport={"width": 1180, "height": 820})
                page = context.new_page()
                page.goto(f"{base}/accounts/login/")
                page.fill("#id_username", username)
                page.fill("#id_password", PASSWORD)
                page.click("button[type=submit]")
                if username == "clinicadmin":
                    page.wait_for_url("**/two-factor/verify/**")
                    page.fill("#id_token", f"{totp(device.bin_key):06d}")
                    page.click("main button[type=submit]")
                page.wait_for_load_state()
                for name, path, fold in pages:
                    page.goto(base + path)
                    page.screenshot(path=str(out / f"{name}.png"), full_page=not fold)
                    print(out / f"{name}.png")
                if username == "frontdesk":
                    page.goto(f"{base}/scheduling/plans/{ids['plan']}/book/")
                    page.fill("#id_date", ids["day"])
                    page.fill("#id_start_time", "10:00")
                    page.select_option("#id_chair", label="Chair 4")
                    page.click("button[value=preview]")
                    page.wait_for_load_state()
                    page.screenshot(path=str(out / "sched-book-series.png"), full_page=True)
                    print(out / "sched-book-series.png")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
