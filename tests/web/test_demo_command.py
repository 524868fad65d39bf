"""`painclinic demo` prints the address the server will really serve and what to try first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_the_port_it_was_given_and_a_first_step_per_role(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PAINCLINIC_ENV": "development",
        "PAINCLINIC_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
    }
    listen = ["--host", "0.0.0.0", "--port", "8123"]  # noqa: S104 - printed, not bound
    done = subprocess.run(
        [sys.executable, "-m", "painclinic.cli", "demo", "--patients", "0", *listen],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = done.stdout
    assert "open http://127.0.0.1:8123/" in out
    assert ":8000" not in out
    for role in ("physician", "nurse", "frontdesk", "billing", "clinicadmin", "patient"):
        login = next(line for line in out.splitlines() if line.strip().startswith(role + " "))
        after = out.split(login, 1)[1].splitlines()[1]
        assert "try first:" in after, role
