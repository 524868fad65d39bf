"""A real painclinic server (own SQLite file, demo data) and Debian's chromium (Playwright)."""

from __future__ import annotations

import functools
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
# Installed by `make test-browser` (npm ci from package-lock.json).
AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


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
    checked_goto(page)
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    check_accessibility(page)


def _describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation.get('impact')}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    at {' '.join(map(str, node['target']))}")
    return "\n".join(lines)


def checked_goto(page) -> None:
    """Make ``page.goto`` run axe-core on every HTML page it opens (pages reached by a click are
    checked where the journey takes a screenshot or calls check_accessibility)."""
    goto = page.goto

    def goto_and_check(url: str, **kwargs):
        response = goto(url, **kwargs)
        if response is not None and "text/html" in (response.header_value("content-type") or ""):
            check_accessibility(page)
        return response

    page.goto = goto_and_check


@functools.cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def check_accessibility(page) -> None:
    """Fail on any WCAG 2.1 A/AA violation axe-core finds on the page as it is now."""
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: run `make node-deps` (npm ci) first")
    page.wait_for_load_state()
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated by the browser's debugging protocol, not added as a <script>: the site's
        # Content-Security-Policy (script-src 'self') rightly refuses an inline script tag.
        page.evaluate(_axe_source())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    violations = result["violations"]
    if violations:
        pytest.fail(
            f"accessibility violations on {page.url}:\n{_describe_violations(violations)}",
            pytrace=False,
        )


def sign_in(page, base: str, username: str) -> None:
    """Sign in as a demo user on the page's browser context (whoever was signed in before)."""
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    check_accessibility(page)
