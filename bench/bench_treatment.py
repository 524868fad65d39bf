"""Infusion-day pages with the large data set, in-process, on SQLite and PostgreSQL.

Data: 10,000 patients, 60,000 infusion sessions (one booking, one rate segment each, 16 a day
over 8 chairs) and 1.5 million observations (25 per session), made with bulk_create in
batches. Pages: the infusion session chart, its concentration SVG, and the chair board for a
busy day (``scheduling:board``, when that view exists), next to the trivial authenticated view
``/accounts/ping/`` as the framework floor. Query counts are measured on one session before
the bulk load and again after it: they must not grow with the data.

Prints a table and writes bench/results/treatment.json. Target: each page's p95 within 5x the
floor's p95.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pagebench import fresh_postgres, run_child, time_pages

HERE = Path(__file__).resolve().parent
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
SESSIONS_PER_PATIENT = 6
OBSERVATIONS_PER_SESSION = 25
CHAIRS = 8
SESSIONS_PER_DAY = 16
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
BATCH = 5000
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR", "")
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
PG_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/painclinic_bench2"
)


def _timed(label: str, timings: dict[str, float], started: float) -> float:
    now = time.perf_counter()
    timings[label] = round(now - started, 2)
    return now


def _child(database_url: str | None, data_dir: str) -> dict:
    """Runs in a subprocess so each database gets fresh Django settings."""
    os.environ["PAINCLINIC_ENV"] = "test"
    os.environ["PAINCLINIC_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "painclinic.web.settings"
    database_label = "postgresql" if database_url else "sqlite"
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    import time_machine  # charts the probe at its own times (a development dependency)
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from painclinic.clinical import plan as clinical_plan
    from painclinic.web.accounts.models import Role, User
    from painclinic.web.demo.registry import build_patient, valid_health_number
    from painclinic.web.infusions import services
    from painclinic.web.infusions.inputs import (
        ChecklistInput,
        DoubleCheckInput,
        ObservationInput,
        PrepareBagInput,
        StartInput,
    )
    from painclinic.web.infusions.models import (
        InfusionSession,
        Observation,
        RateSegment,
        SessionStatus,
    )
    from painclinic.web.lib.service import Actor, Channel
    from painclinic.web.patients.models import ExternalPhysician, Patient, WeightMeasurement
    from painclinic.web.scheduling.models import Booking, Chair
    from painclinic.web.treatments.models import PlannedSession, TreatmentPlan

    build: dict[str, float] = {}
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    t = _timed("migrate_s", build, t)
    rng = random.Random(11)
    nurse = User.objects.create_user("bench_rn", password="bench-password-123", role=Role.NURSE)
    nurse2 = User.objects.create_user("bench_rn2", password="bench-password-123", role=Role.NURSE)
    physician = User.objects.create_user(
        "bench_md", password="bench-password-123", role=Role.PHYSICIAN
    )
    chairs = [Chair.objects.create(name=f"Bench chair {i + 1}") for i in range(CHAIRS)]
    result = clinical_plan("ket-crps-outpatient", {"weight_kg": 80.0, "sex": "female"})
    plan_data = result.to_dict()
    steps = [
        {
            "label": s.label,
            "start_min": s.start_min,
            "duration_min": s.duration_min,
            "rate_mg_per_h": s.rate_mg_per_h,
            "rate_ml_per_h": s.rate_ml_per_h,
            "concentration_mg_per_ml": s.order["bag"]["concentration_mg_per_ml"],
            "total_mg": s.total_mg,
        }
        for s in result.sessions[0].steps
    ]
    now = timezone.now()
    first_day = (now - dt.timedelta(days=400)).replace(hour=13, minute=0, second=0, microsecond=0)

    def add_patient(index: int) -> Patient:
        patient = build_patient(rng, physicians)
        while patient.health_card_number in cards:
            patient.health_card_number = valid_health_number(rng)
        cards.add(patient.health_card_number)
        patient.refresh_derived_fields()
        return patient

    physicians = [ExternalPhysician.objects.create(name=f"Dr. Bench {i}") for i in range(4)]
    cards: set[str] = set()

    # A probe session charted through the services: its query count is measured on the small
    # database, then again on the large one.
    probe_patient = add_patient(0)
    probe_patient.save()
    probe_weight = WeightMeasurement.objects.create(
        patient=probe_patient,
        weight_kg=Decimal("80"),
        height_cm=Decimal("170"),
        measured_on=timezone.localdate(),
        recorded_by=nurse,
        recorded_at=now,
    )
    probe_plan = TreatmentPlan.objects.create(
        patient=probe_patient,
        drug="ketamine",
        protocol_id="ket-crps-outpatient",
        protocol_version=result.protocol_version,
        weight=probe_weight,
        dosing_weight_kg=Decimal("80"),
        plan_data=plan_data,
        limit_status=result.status,
        status="active",
        prescribed_by=physician,
        prescribed_at=now,
    )
    probe_planned = PlannedSession.objects.create(
        plan=probe_plan, number=1, day_offset=0, duration_min=240, total_mg=100, steps=steps
    )
    probe_booking = Booking.objects.create(
        patient=probe_patient,
        chair=chairs[0],
        plan=probe_plan,
        planned_session=probe_planned,
        starts_at=now - dt.timedelta(hours=2),
        ends_at=now + dt.timedelta(hours=2),
        booked_by=nurse,
        booked_at=now,
    )

    def req(user: User) -> Actor:  # a direct service call, as the command line makes it
        return Actor.for_user(user, Channel.CLI, "bench")

    # Each step charted at its own time (the services keep charted times in order): the
    # chart opened on the booking's day, checklist, bag and double check before the start,
    # each observation a minute after it was taken.
    start = now - dt.timedelta(minutes=90)
    with time_machine.travel(start - dt.timedelta(minutes=10), tick=True):
        probe = services.do_open_session(req(nurse), probe_booking.pk)
        services.do_complete_checklist(
            req(nurse),
            probe.pk,
            probe.version,
            ChecklistInput(
                systolic_bp_mmhg=128,
                diastolic_bp_mmhg=78,
                heart_rate_bpm=72,
                respiratory_rate_per_min=14,
                spo2_percent=98,
                weight_kg=Decimal("80"),
                escort_name="Escort",
                escort_phone="1",
                last_solids_at=start - dt.timedelta(hours=9),
                last_clear_fluids_at=start - dt.timedelta(hours=3),
                pregnancy_test="not_applicable",
                no_new_conditions_confirmed=True,
            ),
        )
        probe.refresh_from_db()
        # Ketamine is drawn from the controlled-drug register: receive stock.
        from painclinic.web.drugregister.services import ReceiptInput, do_record_receipt

        do_record_receipt(
            req(nurse),
            ReceiptInput(
                drug="ketamine",
                concentration_mg_per_ml=Decimal("10"),
                vial_volume_ml=Decimal("10"),
                vial_count=10,
                lot="BENCH",
                expiry_date=timezone.localdate() + dt.timedelta(days=100),
                supplier="bench",
                reference="bench",
            ),
        )
        bag = DoubleCheckInput(
            drug="ketamine",
            bag_concentration_mg_per_ml=Decimal("1"),
            dose_value=Decimal("25"),
            dose_unit="mg/h",
            pump_rate_entered_ml_per_h=Decimal("25"),
        )
        services.do_prepare_bag(
            req(nurse),
            probe.pk,
            probe.version,
            PrepareBagInput(
                vial_concentration_mg_per_ml=Decimal("10"),
                drawn_mg=Decimal("100"),
                vial_lot="BENCH",
                **{k: v for k, v in bag.as_mapping().items() if k != "limit_reason"},
            ),
        )
        probe.refresh_from_db()
        services.do_double_check(req(nurse2), probe.pk, probe.version, bag)
    probe.refresh_from_db()
    with time_machine.travel(start, tick=True):
        services.do_start(req(nurse), probe.pk, probe.version, StartInput(start))
    for minutes in (0, 15, 30, 45, 60, 90 - 1):
        probe.refresh_from_db()
        observed = start + dt.timedelta(minutes=minutes)
        with time_machine.travel(min(observed + dt.timedelta(minutes=1), now), tick=True):
            services.do_record_observation(
                req(nurse),
                probe.pk,
                probe.version,
                ObservationInput(
                    observed_at=observed,
                    systolic_bp_mmhg=125,
                    diastolic_bp_mmhg=75,
                    heart_rate_bpm=72,
                    respiratory_rate_per_min=14,
                    spo2_percent=98,
                    rass=0,
                ),
            )

    client = Client()
    client.force_login(nurse)
    probe_url = f"/infusions/{probe.pk}/"

    def count_queries(url: str) -> int:
        """Fewest queries of three requests (a session save now and then is not the page's)."""
        counts = []
        for _ in range(3):
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as captured:
                status = client.get(url).status_code
            assert status == 200, (url, status)
            counts.append(len(captured))
        return min(counts)

    queries_small = count_queries(probe_url)
    t = _timed("probe_s", build, t)

    # --- the large data set -----------------------------------------------------------------
    batch = [add_patient(i) for i in range(PATIENTS)]
    Patient.objects.bulk_create(batch, batch_size=1000)
    ids = list(Patient.objects.exclude(pk=probe_patient.pk).values_list("pk", flat=True))
    WeightMeasurement.objects.bulk_create(
        [
            WeightMeasurement(
                patient_id=pk,
                weight_kg=Decimal("80"),
                height_cm=Decimal("170"),
                measured_on=dt.date(2026, 1, 1),
                recorded_by=nurse,
                recorded_at=now,
            )
            for pk in ids
        ],
        batch_size=BATCH,
    )
    weights = dict(
        WeightMeasurement.objects.exclude(pk=probe_weight.pk).values_list("patient_id", "pk")
    )
    TreatmentPlan.objects.bulk_create(
        [
            TreatmentPlan(
                patient_id=pk,
                drug="ketamine",
                protocol_id="ket-crps-outpatient",
                protocol_version=result.protocol_version,
                weight_id=weights[pk],
                dosing_weight_kg=Decimal("80"),
                plan_data={"bench": True},
                limit_status="within",
                status="active",
                prescribed_by=physician,
                prescribed_at=now,
            )
            for pk in ids
        ],
        batch_size=BATCH,
    )
    plans = list(TreatmentPlan.objects.exclude(pk=probe_plan.pk).values_list("pk", "patient_id"))
    PlannedSession.objects.bulk_create(
        [
            PlannedSession(
                plan_id=plan_id,
                number=n + 1,
                day_offset=n,
                duration_min=240,
                total_mg=100,
                steps=steps,
            )
            for plan_id, _ in plans
            for n in range(SESSIONS_PER_PATIENT)
        ],
        batch_size=BATCH,
    )
    planned = list(
        PlannedSession.objects.exclude(pk=probe_planned.pk).values_list(
            "pk", "plan_id", "plan__patient_id"
        )
    )
    t = _timed("patients_plans_s", build, t)
    bookings = []
    for index, (_, plan_id, patient_id) in enumerate(planned):
        day = first_day + dt.timedelta(days=index // SESSIONS_PER_DAY)
        slot = index % SESSIONS_PER_DAY
        starts = day + dt.timedelta(hours=4 * (slot // CHAIRS))
        bookings.append(
            Booking(
                patient_id=patient_id,
                chair=chairs[slot % CHAIRS],
                plan_id=plan_id,
                planned_session_id=planned[index][0],
                starts_at=starts,
                ends_at=starts + dt.timedelta(hours=4),
                status="completed",
                booked_by=nurse,
                booked_at=now,
            )
        )
    Booking.objects.bulk_create(bookings, batch_size=BATCH)
    busy_day = timezone.localdate(bookings[len(bookings) // 2].starts_at)
    booking_rows = list(
        Booking.objects.exclude(pk=probe_booking.pk).values_list(
            "pk", "patient_id", "plan_id", "planned_session_id", "starts_at"
        )
    )
    InfusionSession.objects.bulk_create(
        [
            InfusionSession(
                patient_id=patient_id,
                booking_id=booking_id,
                plan_id=plan_id,
                planned_session_id=planned_id,
                status=SessionStatus.SIGNED,
                version=40,
                opened_by=nurse,
                dosing_weight_kg=Decimal("80"),
            )
            for booking_id, patient_id, plan_id, planned_id, _ in booking_rows
        ],
        batch_size=BATCH,
    )
    starts_by_booking = {row[0]: row[4] for row in booking_rows}
    session_rows = list(
        InfusionSession.objects.exclude(pk=probe.pk).values_list("pk", "booking_id")
    )
    RateSegment.objects.bulk_create(
        [
            RateSegment(
                session_id=sid,
                started_at=starts_by_booking[bid],
                ended_at=starts_by_booking[bid] + dt.timedelta(hours=4),
                dose_value=Decimal("25"),
                dose_unit="mg/h",
                rate_mg_per_h=Decimal("25"),
                rate_ml_per_h=Decimal("25"),
                concentration_mg_per_ml=Decimal("1"),
                start_reason="start",
                end_reason="stop",
                started_by=nurse,
                ended_by=nurse,
            )
            for sid, bid in session_rows
        ],
        batch_size=BATCH,
    )
    t = _timed("bookings_sessions_segments_s", build, t)
    offsets = [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 165, 180, 190, 200, 210, 220]
    offsets += [225, 230, 235, 240, 250, 260, 270, 280]
    # 1.5 M rows: the DB-API's executemany (the ORM's per-object cost dominates otherwise).
    table = Observation._meta.db_table
    columns = [
        "session_id",
        "observed_at",
        "phase",
        "systolic_bp_mmhg",
        "diastolic_bp_mmhg",
        "heart_rate_bpm",
        "respiratory_rate_per_min",
        "spo2_percent",
        "rass",
        "symptoms",
        "note",
        "action",
        "decision",
        "recorded_by_id",
        "recorded_at",
    ]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    postgres = connection.vendor == "postgresql"
    adapt = (lambda value: value) if postgres else connection.ops.adapt_datetimefield_value
    recorded_at = adapt(now)

    def observation_rows():
        for sid, bid in session_rows:
            base = starts_by_booking[bid]
            for minute in offsets[:OBSERVATIONS_PER_SESSION]:
                yield (
                    sid,
                    adapt(base + dt.timedelta(minutes=minute)),
                    "infusion",
                    120 + minute % 17,
                    75,
                    70,
                    14,
                    98,
                    0,
                    "[]",
                    "",
                    "continue",
                    "{}",
                    nurse.pk,
                    recorded_at,
                )

    observations = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:  # COPY: the fastest bulk path PostgreSQL has
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in observation_rows():
                    copy.write_row(row)
                    observations += 1
        else:
            rows: list[tuple] = []
            for row in observation_rows():
                rows.append(row)
                if len(rows) >= BATCH * 4:
                    cursor.executemany(sql, rows)
                    observations += len(rows)
                    rows = []
            if rows:
                cursor.executemany(sql, rows)
                observations += len(rows)
    t = _timed("observations_s", build, t)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _timed("analyze_s", build, t)

    queries_large = count_queries(probe_url)
    sample = rng.sample([sid for sid, _ in session_rows], REQUESTS)
    pages = {
        "floor (ping)": lambda i: "/accounts/ping/",
        "infusion session": lambda i: f"/infusions/{sample[i]}/",
        "session (probe, running)": lambda i: probe_url,
        "concentration svg": lambda i: f"/infusions/{sample[i]}/concentration.svg",
    }
    try:
        board = reverse("scheduling:board")
        pages["chair board (busy day)"] = lambda i: f"{board}?date={busy_day.isoformat()}"
    except NoReverseMatch:
        pass
    if "chair board (busy day)" in pages:  # the page measured is the busy day, in full
        shown = client.get(pages["chair board (busy day)"](0)).content.decode()
        assert shown.count('class="bcard"') == SESSIONS_PER_DAY, "the busy day is not on the board"
    results: dict[str, dict] = time_pages(client, pages, REQUESTS)
    for name, url_for in pages.items():
        if PROFILE_DIR:  # BENCH_PROFILE_DIR: a cProfile of the same requests, for pstats
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(REQUESTS):
                client.get(url_for(i))
            profiler.disable()
            slug = "".join(c if c.isalnum() else "_" for c in name)
            profiler.dump_stats(str(Path(PROFILE_DIR) / f"{database_label}-{slug}.pstats"))
            with CaptureQueriesContext(connection) as captured:
                client.get(url_for(0))
            (Path(PROFILE_DIR) / f"{database_label}-{slug}.sql").write_text(
                "\n".join(f"{q['time']} {q['sql']}" for q in captured.captured_queries)
            )
        results[name]["queries"] = count_queries(url_for(0))
    results["session (probe, running)"]["queries_small_db"] = queries_small
    results["session (probe, running)"]["queries_large_db"] = queries_large
    return {
        "results": results,
        "build_seconds": build,
        "counts": {
            "patients": Patient.objects.count(),
            "infusion_sessions": InfusionSession.objects.count(),
            "observations": Observation.objects.count(),
            "busy_day": busy_day.isoformat(),
            "bookings_on_busy_day": SESSIONS_PER_DAY,
        },
    }


def _run_child(database_url: str | None) -> dict | None:
    return run_child("bench_treatment", database_url)


def _prepare_postgres() -> str | None:
    return fresh_postgres(PG_URL)


def main() -> None:
    report: dict = {
        "patients": PATIENTS,
        "sessions": PATIENTS * SESSIONS_PER_PATIENT,
        "observations": PATIENTS * SESSIONS_PER_PATIENT * OBSERVATIONS_PER_SESSION,
        "requests_per_page": REQUESTS,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "target": "p95 within 5x the floor's p95; queries constant with the data",
        "databases": {},
    }
    runs: dict[str, str | None] = {"sqlite": None} if "sqlite" in DATABASES else {}
    pg = _prepare_postgres() if "postgresql" in DATABASES else None
    if pg:
        runs["postgresql"] = pg
    header = (
        f"{'database':<11} {'page':<26} {'p50 ms':>8} {'p95 ms':>8} {'p95/floor':>9} {'queries':>7}"
    )
    print(header)
    for database, url in runs.items():
        outcome = _run_child(url)
        if outcome is None:
            continue
        results = outcome["results"]
        floor = results["floor (ping)"]["p95_ms"]
        for page, figures in results.items():
            figures["p95_over_floor"] = figures["p95_ms"] / floor
            print(
                f"{database:<11} {page:<26} {figures['p50_ms']:8.2f} {figures['p95_ms']:8.2f} "
                f"{figures['p95_over_floor']:9.2f} {figures['queries']:7d}"
            )
        probe = results["session (probe, running)"]
        print(
            f"{database:<11} session queries: {probe['queries_small_db']} with one session, "
            f"{probe['queries_large_db']} with {outcome['counts']['infusion_sessions']:,} "
            f"sessions and {outcome['counts']['observations']:,} observations"
        )
        print(f"{database:<11} build seconds: {outcome['build_seconds']}")
        report["databases"][database] = outcome
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "treatment.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
