"""Each staff role's home page (worklist:today) at 1180x820 and 390x844 on a scratch demo.

Usage: .venv/bin/python scripts/screenshots_homes.py [OUTPUT_DIR]  (default test-artifacts/homes)
  RICH=1  adds three patients with one of everything a home lists (the tests' data: plans to
          co-sign, decisions to make, missing information, escalations, series to book...).
  POLL=1  also opens today's chair board as the nurse, waits for its in-place update (up to
          75 s) and prints the reply, the scroll position kept and the grid/top-bar counts.
Prints where each role landed after signing in, any page wider than the screen, and the
browser console's errors (a CSP refusal of htmx would show there).
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
from typing import Any

PASSWORD = "screenshot-password-2026"
ROLES = ("physician", "nurse", "frontdesk", "billing", "clinicadmin")
SIZES = (("", (1180, 820)), ("-phone", (390, 844)))


def _seed() -> Any:
    import django

    django.setup()
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from painclinic.web.accounts.models import Role, User

    admin = User.objects.get(username="clinicadmin")
    device, _ = TOTPDevice.objects.get_or_create(user=admin, name="screens", confirmed=True)
    if os.environ.get("RICH"):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.web.worklist.test_role_homes import clinic

        users = {
            Role.PHYSICIAN: User.objects.get(username="physician"),
            Role.FRONT_DESK: User.objects.get(username="frontdesk"),
        }
        clinic(users, 3)
    return device


def _sign_in(page: Any, base: str, username: str, device: Any, again: bool) -> None:
    from django_otp.oath import totp

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    if username == "clinicadmin":
        if again:
            time.sleep(31)  # a TOTP code is accepted once
        page.wait_for_url("**/two-factor/verify/**")
        page.fill("#id_token", f"{totp(device.bin_key):06d}")
        page.click("main button[type=submit]")
    page.wait_for_load_state()


def _check_poll(page: Any, base: str) -> None:
    page.goto(f"{base}/scheduling/board/")
    print("  htmx loaded:", page.evaluate("typeof window.htmx"))
    with page.expect_response(lambda r: "/scheduling/board/grid/" in r.url, timeout=75000) as got:
        page.evaluate("window.scrollTo(0, 300)")
    print("  poll:", got.value.status, "scrollY after:", page.evaluate("window.scrollY"))
    page.wait_for_timeout(500)
    grids = page.locator("#board-grid table.board").count()
    print("  grid tables:", grids, "top bars:", page.locator("header.topbar").count())


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/homes")
    out.mkdir(parents=True, exist_ok=True)
    data_dir = tempfile.mkdtemp(prefix="painclinic-homes-")
    env = {**os.environ, "PAINCLINIC_ENV": "development", "PAINCLINIC_DATA_DIR": data_dir}
    env.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "painclinic.cli"]
    subprocess.run([*cli, "demo", "--password", PASSWORD, "--patients", "25"], env=env, check=True)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "painclinic.web.settings"
    device = _seed()
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

    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu"],
            )
            for username in ROLES:
                for suffix, (width, height) in SIZES:
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    name = f"{username}{suffix}"

                    def keep(message: Any, name: str = name) -> None:
                        if message.type in ("error", "warning"):
                            errors.append(f"{name}: {message.type}: {message.text}")

                    page.on("console", keep)
                    _sign_in(page, base, username, device, again=bool(suffix))
                    print(name, "landed on", page.url)
                    wide = page.evaluate("document.documentElement.scrollWidth")
                    if wide > width:
                        print(f"  wider than the screen: {wide} > {width}")
                    page.screenshot(path=str(out / f"home-{name}.png"), full_page=True)
                    if username == "nurse" and not suffix and os.environ.get("POLL"):
                        _check_poll(page, base)
                    context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print("\n".join(errors) or "no console errors")


if __name__ == "__main__":
    main()
