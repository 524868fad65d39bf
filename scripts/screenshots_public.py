"""Screenshot the public patient pages (no login) at a tablet and a phone, on a scratch demo.

Usage: .venv/bin/python scripts/screenshots_public.py [OUTPUT_DIR]
(default: test-artifacts/screens).
Prints each page's document width: wider than the viewport means the page scrolls sideways.
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

PAGES = [
    ("front-door", "/"),
    ("chronic-pain", "/info/chronic-pain/"),
    ("ketamine", "/info/ketamine/"),
    ("routes", "/info/ways-it-is-given/"),
    ("conditions", "/info/conditions/"),
    ("relief", "/info/how-long-relief-lasts/"),
    ("costs", "/info/costs/"),
    ("infusion-day", "/info/your-infusion-day/"),
]
VIEWPORTS = (("tablet", (1180, 820)), ("phone", (390, 844)))


def main() -> None:
    from playwright.sync_api import sync_playwright

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/screens")
    out.mkdir(parents=True, exist_ok=True)
    data_dir = tempfile.mkdtemp(prefix="painclinic-public-")
    env = {**os.environ, "PAINCLINIC_ENV": "development", "PAINCLINIC_DATA_DIR": data_dir}
    env.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "painclinic.cli"]
    # The demo loads the fee schedule the costs page shows.
    subprocess.run(  # noqa: S603 - our own command line, fixed arguments
        [*cli, "demo", "--password", "screenshot-password-2026", "--patients", "3"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.3)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for suffix, (width, height) in VIEWPORTS:
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                for name, path in PAGES:
                    page.goto(base + path)
                    document_width = page.evaluate("document.documentElement.scrollWidth")
                    target = out / f"public-{name}-{suffix}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(target, f"width {document_width} of {width}")
                context.close()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
