"""Serve painclinic on a scratch database with demo data and screenshot its pages in chromium.

Usage: .venv/bin/python scripts/screenshots.py [OUTPUT_DIR]   (default: test-artifacts/screens)
Uses Debian's chromium through Playwright, at a tablet-sized viewport.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PASSWORD = "screenshot-password-2026"


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/screens")
    out.mkdir(parents=True, exist_ok=True)
    data_dir = tempfile.mkdtemp(prefix="painclinic-screens-")
    env = {**os.environ, "PAINCLINIC_ENV": "development", "PAINCLINIC_DATA_DIR": data_dir}
    env.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "painclinic.cli"]
    subprocess.run([*cli, "demo", "--password", PASSWORD, "--patients", "25"], env=env, check=True)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "painclinic.web.settings"
    import django
    import django.utils.timezone

    django.setup()
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from painclinic.web.accounts.models import User
    from painclinic.web.patients.models import Patient

    admin = User.objects.get(username="clinicadmin")
    device, _ = TOTPDevice.objects.get_or_create(user=admin, name="screens", confirmed=True)
    patient = Patient.objects.exclude(portal_user__isnull=False).first()
    from painclinic.web.scheduling.models import Booking

    first_booking = Booking.objects.order_by("starts_at").first()
    today = django.utils.timezone.localdate()
    board_day = (
        first_booking.starts_at.astimezone(django.utils.timezone.get_current_timezone()).date()
        if first_booking
        else django.utils.timezone.localdate()
    )

    # The demo patient whose first infusion is blocked by an open missing-information item.
    from painclinic.web.assessments.models import ChecklistItem

    open_item = ChecklistItem.objects.filter(resolved_at__isnull=True).first()
    blocked_name = open_item.patient.full_name if open_item else None

    # The demo's billed patient (Jordan Whitfield): an account with invoices and payments.
    from painclinic.web.billing.models import Invoice

    billed = Invoice.objects.filter(coverage__isnull=True).order_by("number").first()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.3)
    from playwright.sync_api import sync_playwright

    shots = {
        "nurse": [
            ("patient-search", f"/patients/?q={patient.legal_family_name}"),
            ("patient-detail", f"/patients/{patient.pk}/"),
            ("weight-form", f"/patients/{patient.pk}/weights/new/"),
            ("chair-board", f"/scheduling/board/?date={board_day}"),
            ("drug-register", "/drug-register/"),
        ],
        "frontdesk": [
            ("patient-edit", f"/patients/{patient.pk}/edit/"),
            ("referrals-queue", "/referrals/"),
        ],
        "clinicadmin": [("audit-report", "/audit/"), ("staff", "/accounts/staff/")],
        "patient": [
            ("portal-home", "/portal/"),
            ("portal-access-log", "/portal/access-log/"),
            ("portal-invoices", "/portal/invoices/"),
        ],
    }
    if billed is not None:
        shots["billing"] = [
            ("billing-home", "/billing/"),
            ("billing-account", f"/billing/patients/{billed.patient_id}/"),
            ("billing-statement", f"/billing/patients/{billed.patient_id}/statement/"),
            ("billing-invoice", f"/billing/invoices/{billed.pk}/"),
            ("billing-day", f"/billing/days/{today.isoformat()}/"),
            ("billing-reports", "/billing/reports/"),
        ]
    # Every page at a tablet; the billing and portal pages also at a phone.
    phone_users = {"billing", "patient"}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            runs = [(u, pages, "", (1180, 820)) for u, pages in shots.items()]
            runs += [(u, shots[u], "-phone", (390, 844)) for u in shots if u in phone_users]
            for username, pages, suffix, (width, height) in runs:
                context = browser.new_context(viewport={"width": width, "height": height})
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
                for name, path in pages:
                    page.goto(base + path)
                    page.screenshot(path=str(out / f"{name}{suffix}.png"), full_page=True)
                    print(out / f"{name}{suffix}.png")
                if suffix:
                    context.close()
                    continue
                if username == "nurse" and blocked_name and board_day != today:
                    # A chart is opened on its booking's clinic day only (the first bookings
                    # are on the next open weekday when today is not one).
                    print(f"skipped the blocked chart: its booking is on {board_day}")
                elif username == "nurse" and blocked_name:
                    # Open that patient's chart from the board, as a nurse would at the chair.
                    page.goto(f"{base}/scheduling/board/?date={board_day}")
                    card = page.locator("td.card-cell", has_text=blocked_name)
                    card.get_by_role("button", name="Open chart").click()
                    page.wait_for_url("**/infusions/*/")
                    chart_url = page.url
                    for name, path in (("infusion-chart-blocked", ""), ("checklist", "checklist/")):
                        page.goto(chart_url + path)
                        page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                        print(out / f"{name}.png")
                context.close()
            # The public referral forms, as a visitor who is not signed in.
            for suffix, (width, height) in (("", (1180, 820)), ("-phone", (390, 844))):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                for name, path in (("refer", "/refer/"), ("ask-to-be-seen", "/ask-to-be-seen/")):
                    page.goto(base + path)
                    page.screenshot(path=str(out / f"{name}{suffix}.png"), full_page=True)
                    print(out / f"{name}{suffix}.png")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
