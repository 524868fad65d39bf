"""Outcome pages and the follow-up worker with the large data set, on SQLite and PostgreSQL.

Data: 10,000 patients, each with one treated series (an eligibility decision naming the
condition, two bookings, two signed infusions with their rate segments; one adverse event in
fifty infusions), its seven follow-up time points and 200,000 questionnaire responses (every
patient answered baseline, end of series, 1, 2 and 4 weeks; a quarter also 8 weeks), made
with bulk_create; then every plan's outcome summary is computed by the clinical core
(``outcomes.summary.refresh_plans``). Pages: the outcome dashboard and one patient's outcome
page, beside ``/accounts/ping/`` as the framework floor, interleaved. Query counts are taken
with one patient and again with 10,000: they must not grow.

Worker: every patient then gets a second series that ended 7 days ago and consents to e-mail;
one ``followup.tasks.run_tick`` for the system actor plans the new time points and sends the
10,000 week-1 reminders (locmem e-mail backend). Reported as reminders per second.

Prints a table and writes bench/results/outcomes.json. Targets: p95 within 5x the floor's p95;
10,000 reminders in under a minute.
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
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
BATCH = 5000
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
# BENCH_OUTCOMES_ONLY=worker: seed the data set, skip the page timings, run the worker only
# (only the worker's figures in results/outcomes.json are replaced).
ONLY = os.environ.get("BENCH_OUTCOMES_ONLY", "")
PG_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/painclinic_bench_outcomes"
)
PROTOCOLS = [
    ("ket-crps-outpatient", "ketamine", "crps_1"),
    ("ket-single-session-trial", "ketamine", "phn"),
    ("lid-5mgkg-60min", "lidocaine", "pdn"),
    ("ket-single-session-trial", "ketamine", "fibromyalgia"),
]
# The questionnaires the outcome pages read (the clinic's side-effect question is left out so
# that the count stays at 200,000).
SCORED = ("nrs", "bpi", "pgic", "phq9")
ANSWERED = ["baseline", "end_of_series", "week_1", "week_2", "week_4"]


def _timed(label: str, timings: dict[str, float], started: float) -> float:
    now = time.perf_counter()
    timings[label] = round(now - started, 2)
    return now


def _child(database_url: str | None, data_dir: str) -> dict:
    """Runs in a subprocess so each database gets fresh Django settings."""
    os.environ["PAINCLINIC_ENV"] = "test"
    os.environ["PAINCLINIC_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "painclinic.web.settings"
    os.environ["PAINCLINIC_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from painclinic.clinical.followup import build_schedule, load_followup_policy
    from painclinic.web.accounts.models import Role, User
    from painclinic.web.accounts.services import system_actor
    from painclinic.web.assessments.models import EligibilityDecision
    from painclinic.web.demo.registry import build_patient, valid_health_number
    from painclinic.web.followup.models import (
        AnswerChannel,
        FollowUpResponse,
        FollowUpTimePoint,
        TimePointStatus,
    )
    from painclinic.web.followup.tasks import run_tick
    from painclinic.web.infusions.models import (
        AdverseEvent,
        InfusionSession,
        RateSegment,
        SessionStatus,
    )
    from painclinic.web.lib.actor import Channel
    from painclinic.web.lib.clinictime import local_today, to_utc
    from painclinic.web.outcomes.summary import refresh_plans
    from painclinic.web.patients.models import (
        Consent,
        ConsentDecision,
        ConsentKind,
        ExternalPhysician,
        Patient,
        WeightMeasurement,
    )
    from painclinic.web.scheduling.models import Booking, BookingStatus, Chair
    from painclinic.web.treatments.models import PlannedSession, TreatmentPlan

    build: dict[str, float] = {}
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    t = _timed("migrate_s", build, t)
    rng = random.Random(12)
    nurse = User.objects.create_user("bench_rn", password="bench-password-123", role=Role.NURSE)
    physician = User.objects.create_user(
        "bench_md", password="bench-password-123", role=Role.PHYSICIAN
    )
    chair = Chair.objects.create(name="Bench chair")
    physicians = [ExternalPhysician.objects.create(name=f"Dr. Bench {i}") for i in range(4)]
    cards: set[str] = set()
    now = timezone.now()
    today = local_today()
    policy = load_followup_policy()

    def seed(count: int, start_index: int) -> list[int]:
        """``count`` treated patients with answered follow-up; returns their plan ids."""
        patients = []
        for _ in range(count):
            p = build_patient(rng, physicians)
            while p.health_card_number in cards:
                p.health_card_number = valid_health_number(rng)
            cards.add(p.health_card_number)
            p.email = f"bench{len(cards)}@example.org"
            p.refresh_derived_fields()
            patients.append(p)
        Patient.objects.bulk_create(patients, batch_size=1000)
        ids = [p.pk for p in patients]
        if not all(ids):  # a backend that does not return keys from bulk_create
            ids = list(Patient.objects.order_by("-pk").values_list("pk", flat=True)[:count])
            ids.reverse()
        weights = WeightMeasurement.objects.bulk_create(
            [
                WeightMeasurement(
                    patient_id=pk, weight_kg=Decimal("80"), height_cm=Decimal("170"),
                    measured_on=today, recorded_by=nurse, recorded_at=now,
                )
                for pk in ids
            ],
            batch_size=BATCH,
        )  # fmt: skip
        kinds = [PROTOCOLS[(start_index + i) % len(PROTOCOLS)] for i in range(count)]
        decisions = EligibilityDecision.objects.bulk_create(
            [
                EligibilityDecision(
                    patient_id=pk, drug=drug, condition=condition, facts={}, engine_result={},
                    engine_status="eligible", physician_decision="accept",
                    final_status="eligible", decided_by=physician, decided_at=now,
                )
                for pk, (_, drug, condition) in zip(ids, kinds, strict=True)
            ],
            batch_size=BATCH,
        )  # fmt: skip
        plans = TreatmentPlan.objects.bulk_create(
            [
                TreatmentPlan(
                    patient_id=pk, drug=drug, protocol_id=protocol_id, protocol_version="bench",
                    weight_id=w.pk, dosing_weight_kg=Decimal("80"), plan_data={"bench": True},
                    limit_status="within", status="completed", prescribed_by=physician,
                    prescribed_at=now, eligibility={"decision_id": d.pk},
                )
                for pk, w, d, (protocol_id, drug, _) in zip(
                    ids, weights, decisions, kinds, strict=True
                )
            ],
            batch_size=BATCH,
        )  # fmt: skip
        # The series ended 150-210 days ago: every window has closed.
        firsts = [today - dt.timedelta(days=150 + (start_index + i) % 60) for i in range(count)]
        planned = PlannedSession.objects.bulk_create(
            [
                PlannedSession(
                    plan_id=plan.pk, number=n + 1, day_offset=n, duration_min=240,
                    total_mg=100, steps=[],
                )
                for plan in plans
                for n in range(2)
            ],
            batch_size=BATCH,
        )  # fmt: skip
        bookings = Booking.objects.bulk_create(
            [
                Booking(
                    patient_id=plan.patient_id, chair=chair, plan_id=plan.pk,
                    planned_session_id=planned[2 * i + n].pk,
                    starts_at=to_utc(first + dt.timedelta(days=n), dt.time(9 + i % 8, 0)),
                    ends_at=to_utc(first + dt.timedelta(days=n), dt.time(13 + i % 8, 0)),
                    status=BookingStatus.COMPLETED, booked_by=nurse, booked_at=now,
                )
                for i, (plan, first) in enumerate(zip(plans, firsts, strict=True))
                for n in range(2)
            ],
            batch_size=BATCH,
        )  # fmt: skip
        sessions = InfusionSession.objects.bulk_create(
            [
                InfusionSession(  # type: ignore[misc]
                    patient_id=b.patient_id, booking_id=b.pk, plan_id=b.plan_id,
                    planned_session_id=b.planned_session_id, status=SessionStatus.SIGNED,
                    version=30, opened_by=nurse, dosing_weight_kg=Decimal("80"),
                )
                for b in bookings
            ],
            batch_size=BATCH,
        )  # fmt: skip
        RateSegment.objects.bulk_create(
            [
                RateSegment(
                    session_id=s.pk, started_at=b.starts_at, ended_at=b.ends_at,
                    dose_value=Decimal("25"), dose_unit="mg/h", rate_mg_per_h=Decimal("25"),
                    rate_ml_per_h=Decimal("25"), concentration_mg_per_ml=Decimal("1"),
                    start_reason="start", end_reason="stop", started_by=nurse, ended_by=nurse,
                )
                for s, b in zip(sessions, bookings, strict=True)
            ],
            batch_size=BATCH,
        )  # fmt: skip
        AdverseEvent.objects.bulk_create(
            [
                AdverseEvent(
                    session_id=s.pk, occurred_at=b.starts_at + dt.timedelta(hours=1),
                    event_type=rng.choice(["hypertension", "nausea_vomiting", "dissociation"]),
                    severity=rng.choice(["mild", "mild", "moderate"]), action_taken="observed",
                    outcome="resolved", serious=False, recorded_by=nurse, recorded_at=now,
                )
                for i, (s, b) in enumerate(zip(sessions, bookings, strict=True))
                if (start_index * 2 + i) % 50 == 0
            ],
            batch_size=BATCH,
        )  # fmt: skip
        points = []
        for i, (plan, first) in enumerate(zip(plans, firsts, strict=True)):
            for sp in build_schedule(policy, first, first + dt.timedelta(days=1)):
                answered = sp.key in ANSWERED or (sp.key == "week_8" and (start_index + i) % 4 == 0)
                points.append(
                    FollowUpTimePoint(
                        plan_id=plan.pk, patient_id=plan.patient_id, key=sp.key,
                        label=sp.label, opens_on=sp.opens_on, due_on=sp.due_on,
                        overdue_from=sp.overdue_from, closes_on=sp.closes_on,
                        instruments=list(sp.instruments), policy_version=policy.version,
                        status=TimePointStatus.COMPLETED if answered else TimePointStatus.SCHEDULED,
                        completed_at=to_utc(sp.due_on, dt.time(12, 0)) if answered else None,
                        created_at=now,
                    )
                )  # fmt: skip
        points = FollowUpTimePoint.objects.bulk_create(points, batch_size=BATCH)
        responses = []
        for i, point in enumerate(points):
            if point.status != TimePointStatus.COMPLETED:
                continue
            late = point.key in ("week_4", "week_8")
            nrs = rng.choice([2, 3, 4]) if not late or i % 3 else rng.choice([6, 7, 8])
            if point.key == "baseline":
                nrs = rng.choice([7, 8, 9])
            for instrument in [i for i in point.instruments if i in SCORED]:
                score: float | None = {
                    "nrs": nrs, "pgic": rng.choice([1, 2, 3, 4]), "phq9": rng.randint(2, 18),
                }.get(instrument)  # fmt: skip
                result = {"details": {"interference": rng.randint(10, 80) / 10}}
                responses.append(
                    FollowUpResponse(  # type: ignore[misc]
                        time_point_id=point.pk, patient_id=point.patient_id,
                        instrument=instrument, answers={}, status="submitted",
                        channel=AnswerChannel.PORTAL, result=result, score=score,
                        started_at=point.completed_at, updated_at=point.completed_at,
                        submitted_at=point.completed_at,
                    )
                )  # fmt: skip
        FollowUpResponse.objects.bulk_create(responses, batch_size=BATCH)
        refresh_plans([p.pk for p in plans])
        return [p.pk for p in plans]

    seed(1, 0)
    probe_patient = Patient.objects.order_by("pk").first()
    assert probe_patient is not None
    t = _timed("probe_s", build, t)
    client = Client()
    client.force_login(physician)
    pages = {
        "floor (ping)": lambda i: "/accounts/ping/",
        "outcome dashboard": lambda i: "/outcomes/",
        "patient outcome page": lambda i: f"/outcomes/patient/{probe_patient.pk}/",
    }

    def count_queries(url: str) -> int:
        counts = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as captured:
                status = client.get(url).status_code
            assert status == 200, (url, status)
            counts.append(len(captured))
        return min(counts)

    worker_only = ONLY == "worker"
    small = {} if worker_only else {name: count_queries(url(0)) for name, url in pages.items()}
    done = 1
    while done < PATIENTS:
        step = min(2000, PATIENTS - done)
        seed(step, done)
        done += step
    t = _timed("patients_series_answers_summaries_s", build, t)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    t = _timed("analyze_s", build, t)

    def measure_pages(small: dict[str, int]) -> tuple[dict[str, dict], list[dict]]:
        large = {name: count_queries(url(0)) for name, url in pages.items()}
        results = time_pages(client, pages, REQUESTS)
        # The dashboard page reuses its figures while nothing they depend on changed (at most
        # 10 minutes): time the computation itself as well, every figure aggregated afresh.
        from painclinic.web.outcomes import dashboard

        builds = []
        for _ in range(max(20, REQUESTS // 10)):
            started = time.perf_counter()
            dashboard.build(today)
            builds.append((time.perf_counter() - started) * 1000)
        builds.sort()
        with CaptureQueriesContext(connection) as captured:
            dashboard.build(today)
        build_queries = len(captured)
        # Where the computation spends its database time (the slowest queries).
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
        dashboard_queries = [
            {"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:160]} for q in slowest
        ]
        for name in results:
            results[name]["queries"] = large[name]
            results[name]["queries_small_db"] = small[name]
            results[name]["queries_large_db"] = large[name]
        results["dashboard figures computed (in-process)"] = {
            "p50_ms": builds[len(builds) // 2],
            "p95_ms": builds[int(0.95 * len(builds)) - 1],
            "queries": build_queries,
            "queries_small_db": build_queries,
            "queries_large_db": build_queries,
        }
        return results, dashboard_queries

    dashboard_queries: list[dict] = []
    results: dict[str, dict] = {}
    if not worker_only:
        results, dashboard_queries = measure_pages(small)
    counts = {
        "patients": Patient.objects.count(),
        "responses": FollowUpResponse.objects.count(),
        "time_points": FollowUpTimePoint.objects.count(),
        "infusion_sessions": InfusionSession.objects.count(),
        "adverse_events": AdverseEvent.objects.count(),
    }

    if os.environ.get("BENCH_SKIP_WORKER"):
        return {"results": results, "build_seconds": build, "counts": counts,
                "dashboard_slowest_queries": dashboard_queries, "worker": None}  # fmt: skip
    # --- the worker: 10,000 due week-1 reminders --------------------------------------------
    last_day = today - dt.timedelta(days=7)
    patient_ids = list(Patient.objects.values_list("pk", flat=True))
    Consent.objects.bulk_create(
        [
            Consent(
                patient_id=pk, kind=ConsentKind.EMAIL, decision=ConsentDecision.GRANTED,
                decided_on=today - dt.timedelta(days=30), document_version="bench",
                recorded_by=nurse, recorded_at=now,
            )
            for pk in patient_ids
        ],
        batch_size=BATCH,
    )  # fmt: skip
    weights_by_patient = dict(WeightMeasurement.objects.values_list("patient_id", "pk"))
    new_plans = TreatmentPlan.objects.bulk_create(
        [
            TreatmentPlan(
                patient_id=pk, drug="ketamine", protocol_id="ket-single-session-trial",
                protocol_version="bench", weight_id=weights_by_patient[pk],
                dosing_weight_kg=Decimal("80"), plan_data={"bench": True},
                limit_status="within", status="completed", prescribed_by=physician,
                prescribed_at=now,
            )
            for pk in patient_ids
        ],
        batch_size=BATCH,
    )  # fmt: skip
    Booking.objects.bulk_create(
        [
            Booking(
                patient_id=plan.patient_id, chair=chair, plan_id=plan.pk,
                starts_at=to_utc(last_day, dt.time(9, 0)) + dt.timedelta(seconds=i),
                ends_at=to_utc(last_day, dt.time(13, 0)) + dt.timedelta(seconds=i),
                status=BookingStatus.COMPLETED, booked_by=nurse, booked_at=now,
            )
            for i, plan in enumerate(new_plans)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    mail.outbox = []
    tick_at = to_utc(today, dt.time(10, 0))
    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = run_tick(system_actor(Channel.WORKER), tick_at)
    seconds = time.perf_counter() - started
    if profiler is not None:  # BENCH_PROFILE=file: the tick's profile, for pstats
        profiler.disable()
        profiler.dump_stats(os.environ["BENCH_PROFILE"])
    worker = {
        "reminders_sent": report.reminders_sent,
        "reminders_failed": report.reminders_failed,
        "series_planned": report.series_planned,
        "emails_in_outbox": len(mail.outbox),
        "seconds": round(seconds, 2),
        "reminders_per_second": round(report.reminders_sent / seconds, 1) if seconds else None,
    }
    return {
        "results": results,
        "build_seconds": build,
        "counts": counts,
        "worker": worker,
        "dashboard_slowest_queries": dashboard_queries,
    }


def main() -> None:
    report: dict = {
        "patients": PATIENTS,
        "requests_per_page": REQUESTS,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "target": "p95 within 5x the floor's p95; queries constant with the data; "
        "10,000 reminders in under 60 s",
        "databases": {},
    }
    runs: dict[str, str | None] = {"sqlite": None} if "sqlite" in DATABASES else {}
    pg = fresh_postgres(PG_URL) if "postgresql" in DATABASES else None
    if pg:
        runs["postgresql"] = pg
    print(
        f"{'database':<11} {'page':<40} {'p50 ms':>8} {'p95 ms':>8} {'p95/floor':>9} {'queries':>9}"
    )
    for database, url in runs.items():
        outcome = run_child("bench_outcomes", url)
        if outcome is None:
            continue
        results = outcome["results"]
        floor = results["floor (ping)"]["p95_ms"] if results else 1.0
        for page, figures in results.items():
            figures["p95_over_floor"] = figures["p95_ms"] / floor
            queries = f"{figures['queries_small_db']}->{figures['queries_large_db']}"
            print(
                f"{database:<11} {page:<40} {figures['p50_ms']:8.2f} {figures['p95_ms']:8.2f} "
                f"{figures['p95_over_floor']:9.2f} {queries:>9}"
            )
        for q in outcome["dashboard_slowest_queries"]:
            print(f"{database:<11} computing, query {q['ms']:7.2f} ms  {q['sql'][:80]}")
        w = outcome["worker"]
        if w is None:
            continue
        print(
            f"{database:<11} worker: {w['reminders_sent']:,} reminders sent in {w['seconds']} s "
            f"({w['reminders_per_second']}/s), {w['emails_in_outbox']:,} e-mails, "
            f"{w['reminders_failed']} failed"
        )
        print(f"{database:<11} counts: {outcome['counts']}")
        print(f"{database:<11} build seconds: {outcome['build_seconds']}")
        report["databases"][database] = outcome
    (HERE / "results").mkdir(exist_ok=True)
    path = HERE / "results" / "outcomes.json"
    if ONLY == "worker" and path.exists():
        # Only the worker was run: keep the page figures of the last full run.
        full = json.loads(path.read_text())
        for database, outcome in report["databases"].items():
            full["databases"].setdefault(database, outcome)["worker"] = outcome["worker"]
        full["worker_load_average"] = report["load_average"]
        report = full
    path.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
