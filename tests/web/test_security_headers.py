"""Security headers on every response, and Django's deployment check on production settings."""

from __future__ import annotations

import os
import subprocess
import sys

from django.urls import reverse

from painclinic.web.accounts.models import Role


def test_every_page_carries_the_security_headers(client, client_for, patient):
    responses = [
        client.get(reverse("accounts:login")),
        client.get(reverse("healthz")),
        client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": patient.pk})),
    ]
    for response in responses:
        csp = response["Content-Security-Policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src
        assert "frame-ancestors 'none'" in csp
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"


def test_pages_load_no_inline_script(client_for, patient):
    body = (
        client_for(Role.NURSE)
        .get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
        .content
    )
    assert b"<script>" not in body and b" onclick=" not in body


def test_deploy_check_passes_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
        "PAINCLINIC_ENV": "production",
        "PAINCLINIC_SECRET_KEY": "x" * 20 + "production-secret-key-for-the-check-only-0123456789",
        "PAINCLINIC_ALLOWED_HOSTS": "clinic.example.org",
        "PAINCLINIC_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAINCLINIC_")},
        "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
        "PAINCLINIC_ENV": "production",
        "PAINCLINIC_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "PAINCLINIC_SECRET_KEY" in result.stderr


def test_sqlite_runs_in_wal_with_full_synchronous(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
            cursor.execute("SHOW fsync")
            assert cursor.fetchone()[0] == "on"
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2  # FULL
        cursor.execute("PRAGMA journal_mode")
        # An in-memory test database reports "memory"; a file database reports "wal".
        assert cursor.fetchone()[0] in ("wal", "memory")
