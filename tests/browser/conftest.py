"""A real painclinic server (own SQLite file, demo data) and Debian's chromium (Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DEMO_PASSWORD = "journey-password-2026"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """``painclinic serve`` on a free local port with ``env``, until the block ends."""
    port = _free_port()
    log = open(data_dir / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "painclinic.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)  # noqa: S310 - localhost
            break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        log.close()
        raise RuntimeError((data_dir / "server.log").read_text())
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("painclinic-data")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PAINCLINIC_ENV": "development",
        "PAINCLINIC_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
        # The physician journey plans the inpatient continuous-titration protocol.
        "PAINCLINIC_INPATIENT_SERVICE": "1",
    }
    cli = [sys.executable, "-m", "painclinic.cli"]
    subprocess.run(
        [*cli, "demo", "--password", DEMO_PASSWORD, "--patients", "12"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    with serving(data_dir, env) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    # A tablet-sized viewport: the chairside device.
    context = browser.new_context(viewport={"width": 1180, "height": 820})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, username: str) -> None:
    """Sign in as a demo user on the page's browser context (whoever was signed in before)."""
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
