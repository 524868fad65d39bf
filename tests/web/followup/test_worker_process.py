"""`painclinic worker` as a real process: killed in the middle of a batch (after the mail
server accepted a message, before the worker recorded it) and restarted, it sends nothing
twice, and only the reminders of the batch it was sending are left unsent (``sending``, later
``unconfirmed``); the reminders of the batches before and after go once each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "painclinic.cli"]
ROOT = Path(__file__).resolve().parents[3]
PATIENTS = 6


@pytest.fixture
def clinic(tmp_path: Path) -> dict[str, str]:
    """A fresh SQLite clinic with PATIENTS followed patients whose baseline is open now."""
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    policy = json.loads(
        resources.files("painclinic.clinical")
        .joinpath("data", "followup_policy.json")
        .read_text("utf-8")
    )
    policy["reminders"]["send_from_hour_local"] = 0  # whatever the hour the test runs at
    (policy_dir / "followup_policy.json").write_text(json.dumps(policy), encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PAINCLINIC_") and k != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="painclinic.web.settings",
        PAINCLINIC_DATA_DIR=str(tmp_path),
        PAINCLINIC_CLINICAL_POLICY_DIR=str(policy_dir),
        PAINCLINIC_EMAIL_BACKEND="tests.web.followup.crashing_mail.EmailBackend",
        PAINCLINIC_TEST_MAIL_LOG=str(tmp_path / "mail.log"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
    )
    run = {"env": env, "cwd": ROOT, "capture_output": True, "text": True, "timeout": 300}
    subprocess.run([*CLI, "manage", "migrate", "--no-input"], check=True, **run)
    subprocess.run(
        [sys.executable, "-m", "tests.web.followup.seed_for_worker", str(PATIENTS)],
        check=True,
        **run,
    )
    return env


def _worker_once(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "worker", "--once"],
        env={**env, **extra},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_worker_killed_mid_batch_and_restarted_sends_nothing_twice(clinic):
    # Batches of 2: the first batch goes and is recorded; the worker dies after the first
    # e-mail of the second batch, before recording it.
    batches = {"PAINCLINIC_FOLLOWUP_REMINDER_BATCH": "2"}
    crashed = _worker_once(clinic, PAINCLINIC_TEST_CRASH_AFTER="3", **batches)
    assert crashed.returncode == 9, crashed.stderr
    log = Path(clinic["PAINCLINIC_TEST_MAIL_LOG"])
    assert len(log.read_text().splitlines()) == 3

    restarted = _worker_once(clinic, **batches)
    assert restarted.returncode == 0, restarted.stderr
    assert "2 sent" in restarted.stdout, restarted.stdout  # the third batch only
    again = _worker_once(clinic, **batches)  # the same day: nothing more to send
    assert again.returncode == 0 and "0 sent" in again.stdout, again.stdout

    sent = Counter(log.read_text().splitlines())
    # Every patient reminded but the one whose e-mail the dead worker never handed over
    # (its reminder stays claimed, then unconfirmed: never sent twice) ...
    assert len(sent) == PATIENTS - 1
    assert set(sent.values()) == {1}  # ... and none twice
