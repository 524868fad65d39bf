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
        "PAINCLINIC_AUDIT_KEY": "audit-key-for-the-check-only-0123456789abcdef",
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


def test_the_database_is_durable_at_start_up(db):
    from painclinic.web.lib.durability import durability_problems

    assert durability_problems() == []


def test_an_unsafe_sqlite_setting_is_reported(db):
    from django.db import connection

    from painclinic.web.lib.durability import durability_problems

    if connection.vendor != "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
        assert durability_problems() == ["PostgreSQL synchronous_commit is off, expected on"]
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO on")
        return
    from django.db import connections

    # A second connection, outside the test's transaction (SQLite refuses the change inside one).
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("PRAGMA synchronous = NORMAL")
        assert durability_problems(other) == ["SQLite synchronous is 1, expected 2 (FULL)"]
    finally:
        other.close()


def test_health_check_reports_the_database(client, db):
    response = client.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}
