"""Page latency with 10,000 patients, in-process, on SQLite and PostgreSQL.

For each database: patient search and patient detail, next to a trivial authenticated view
(``/accounts/ping/``) through the same middleware stack as the framework floor. Prints a table
and writes bench/results/web.json. Target: each page's p95 within 5x the floor's p95.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pagebench import fresh_postgres, run_child, time_pages

HERE = Path(__file__).resolve().parent
PATIENTS = 10_000
REQUESTS = 300
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/painclinic_bench")


def _child(database_url: str | None, data_dir: str) -> dict:
    """Runs in a subprocess so each database gets fresh Django settings."""
    os.environ["PAINCLINIC_ENV"] = "test"
    os.environ["PAINCLINIC_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "painclinic.web.settings"
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from painclinic.web.accounts.models import Role, User
    from painclinic.web.demo.registry import build_patient, valid_health_number
    from painclinic.web.patients.models import ExternalPhysician, Patient, WeightMeasurement

    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    user = User.objects.create_user("bench_fd", password="bench-password-123", role=Role.NURSE)
    physicians = [ExternalPhysician.objects.create(name=f"Dr. Bench {i}") for i in range(4)]
    batch = []
    cards = set()
    for _ in range(PATIENTS):
        patient = build_patient(rng, physicians)
        while patient.health_card_number in cards:
            patient.health_card_number = valid_health_number(rng)
        cards.add(patient.health_card_number)
        patient.refresh_derived_fields()
        batch.append(patient)
    Patient.objects.bulk_create(batch, batch_size=1000)
    ids = list(Patient.objects.values_list("pk", flat=True))
    now = timezone.now()
    WeightMeasurement.objects.bulk_create(
        [
            WeightMeasurement(
                patient_id=pk,
                weight_kg=70,
                measured_on=dt.date(2026, 1, 1),
                recorded_by=user,
                recorded_at=now,
            )
            for pk in ids
        ],
        batch_size=1000,
    )
    client = Client()
    client.force_login(user)
    sample = Patient.objects.order_by("?")[:REQUESTS]
    family_names = [p.legal_family_name for p in sample]
    pages = {
        "floor (ping)": lambda i: "/accounts/ping/",
        "patient search": lambda i: f"/patients/?q={family_names[i % len(family_names)]}",
        "patient detail": lambda i: f"/patients/{ids[(i * 37) % len(ids)]}/",
    }
    results: dict[str, dict] = time_pages(client, pages, REQUESTS)
    for name, url_for in pages.items():
        with CaptureQueriesContext(connection) as queries:
            client.get(url_for(0))
        results[name]["queries"] = len(queries)
    return results


def _run_child(database_url: str | None) -> dict | None:
    return run_child("bench_web", database_url)


def _prepare_postgres() -> str | None:
    return fresh_postgres(PG_URL)


def main() -> None:
    report = {
        "patients": PATIENTS,
        "requests_per_page": REQUESTS,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "databases": {},
    }
    runs = {"sqlite": None}
    pg = _prepare_postgres()
    if pg:
        runs["postgresql"] = pg
    print(
        f"{'database':<11} {'page':<16} {'p50 ms':>8} {'p95 ms':>8} {'p95/floor':>9} {'queries':>7}"
    )
    for database, url in runs.items():
        results = _run_child(url)
        if results is None:
            continue
        floor = results["floor (ping)"]["p95_ms"]
        for page, figures in results.items():
            figures["p95_over_floor"] = figures["p95_ms"] / floor
            print(
                f"{database:<11} {page:<16} {figures['p50_ms']:8.2f} {figures['p95_ms']:8.2f} "
                f"{figures['p95_over_floor']:9.2f} {figures['queries']:7d}"
            )
        report["databases"][database] = results
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "web.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
