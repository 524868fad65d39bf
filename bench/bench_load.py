"""The served app under load: many signed-in clients against a real ``painclinic serve``.

For each database (the embedded SQLite default, then PostgreSQL): a fresh data directory (and,
for PostgreSQL, a fresh database of the bench's own), ``painclinic demo``, a few running
infusions charted through the services, one staff account per client, then ``painclinic serve``
on 127.0.0.1. Every client signs in through the login page (nurses, physicians and the front
desk: roles without two-factor) and then, for ``BENCH_LOAD_SECONDS`` (30 s), loops the pages a
clinic day uses: patient search, a patient's record, the chair board, an infusion chart; nurses
also record an observation (about one request in ten) and a weight (one in twenty) through the
forms, as a browser would (GET the form, POST it with its CSRF token and version).

A write is timed as one step: its form's GET and its POST. Sign-in is timed apart (a password
hash each, all clients at once) and is left out of the overall latency; its errors count.

Counted: requests, p50/p95 latency (ms) per page and overall, 5xx, 4xx other than the expected
ones (a 409 "someone else charted first" on a write is expected and counted apart), and lost
sessions: a signed-in request answered with the login page (a redirect to it), or the 400 that
Django's session middleware gives when it cannot save a session. The server's log is scanned
for "database is locked". Prints a table and writes bench/results/load.json.

Only 127.0.0.1; bounded in time (the run, plus sign-in and set-up) and in clients.
Environment: BENCH_LOAD_SECONDS, BENCH_LOAD_CLIENTS_SQLITE (40), BENCH_LOAD_CLIENTS_PG (80),
BENCH_DATABASES (sqlite,postgresql), BENCH_LOAD_DATABASE_URL (a database the bench drops and
creates), BENCH_LOAD_THINK_MS (pause between a client's requests, 0).
"""

from __future__ import annotations

import datetime as dt
import http.client
import importlib
import json
import multiprocessing
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pagebench import fresh_postgres

HERE = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "30"))
CLIENTS = {
    "sqlite": int(os.environ.get("BENCH_LOAD_CLIENTS_SQLITE", "40")),
    "postgresql": int(os.environ.get("BENCH_LOAD_CLIENTS_PG", "80")),
}
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
PG_URL = os.environ.get(
    "BENCH_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/painclinic_bench_load"
)
THINK_MS = float(os.environ.get("BENCH_LOAD_THINK_MS", "0"))
PASSWORD = "bench-load-password-2026"  # a throwaway bench database's password
DEMO_PATIENTS = 300
RUNNING_INFUSIONS = 8
CLIENT_PROCESSES = 4
REQUEST_TIMEOUT_S = 60
HARD_CAP_REQUESTS = 200_000  # across all clients: a bound whatever the machine's speed
CLINIC_ZONE = ZoneInfo(os.environ.get("PAINCLINIC_TIME_ZONE", "America/Toronto"))
CLI = [sys.executable, "-m", "painclinic.cli"]

# --- set-up (runs in a child interpreter with the server's environment) ----------------------


def _setup(clients: int) -> dict[str, Any]:
    """Running infusions, charted through the services, and one staff account per client."""
    import django

    django.setup()
    from decimal import Decimal

    import time_machine
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from painclinic.clinical import plan as clinical_plan
    from painclinic.web.accounts.models import Role, User
    from painclinic.web.drugregister.services import ReceiptInput, do_record_receipt
    from painclinic.web.infusions import services
    from painclinic.web.infusions.inputs import (
        ChecklistInput,
        DoubleCheckInput,
        PrepareBagInput,
        StartInput,
    )
    from painclinic.web.lib.service import Actor, Channel
    from painclinic.web.patients.models import Patient, SexAtBirth, WeightMeasurement
    from painclinic.web.scheduling.models import Booking, Chair
    from painclinic.web.treatments.models import PlannedSession, TreatmentPlan

    nurse = User.objects.get(username="nurse")
    nurse2 = User.objects.get(username="nurse2")
    physician = User.objects.get(username="physician")

    def act(user: User) -> Actor:
        return Actor.for_user(user, Channel.CLI, "bench")

    # One password hash for every bench account (hashing 80 passwords would take a minute).
    hashed = make_password(PASSWORD)
    roles = [Role.NURSE, Role.NURSE, Role.PHYSICIAN, Role.FRONT_DESK, Role.NURSE]
    users = []
    for i in range(clients):
        role = roles[i % len(roles)]
        username = f"load_{role}_{i:03d}"
        User.objects.create(username=username, password=hashed, role=role, last_name=f"Load {i}")
        users.append((username, str(role)))

    result = clinical_plan("ket-crps-outpatient", {"weight_kg": 80.0, "sex": "male"})
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
    do_record_receipt(
        act(nurse),
        ReceiptInput(
            drug="ketamine",
            concentration_mg_per_ml=Decimal("10"),
            vial_volume_ml=Decimal("10"),
            vial_count=RUNNING_INFUSIONS * 2,
            lot="LOAD",
            expiry_date=timezone.localdate() + dt.timedelta(days=100),
            supplier="bench",
            reference="bench",
        ),
    )
    candidates = list(
        Patient.objects.filter(
            portal_user__isnull=True, plans__isnull=True, sex_at_birth=SexAtBirth.MALE
        ).order_by("id")[:RUNNING_INFUSIONS]
    )
    sessions = []
    # Charted 25 minutes ago (the bag and its double check before the start), so the clients'
    # observations, at the current minute, come after the start.
    with time_machine.travel(now - dt.timedelta(minutes=25), tick=True):
        for index, patient in enumerate(candidates):
            chair = Chair.objects.create(name=f"Load chair {index + 1}")
            weight = WeightMeasurement.objects.create(
                patient=patient,
                weight_kg=Decimal("80"),
                height_cm=Decimal("175"),
                measured_on=timezone.localdate(),
                recorded_by=nurse,
                recorded_at=timezone.now(),
            )
            plan = TreatmentPlan.objects.create(
                patient=patient,
                drug="ketamine",
                protocol_id="ket-crps-outpatient",
                protocol_version=result.protocol_version,
                weight=weight,
                dosing_weight_kg=Decimal("80"),
                plan_data=result.to_dict(),
                limit_status=result.status,
                status="active",
                prescribed_by=physician,
                prescribed_at=timezone.now(),
            )
            planned = PlannedSession.objects.create(
                plan=plan, number=1, day_offset=0, duration_min=240, total_mg=100, steps=steps
            )
            booking = Booking.objects.create(
                patient=patient,
                chair=chair,
                plan=plan,
                planned_session=planned,
                starts_at=timezone.now() - dt.timedelta(minutes=5),
                ends_at=timezone.now() + dt.timedelta(hours=4),
                booked_by=nurse,
                booked_at=timezone.now(),
            )
            session = services.do_open_session(act(nurse), booking.pk)
            services.do_complete_checklist(
                act(nurse),
                session.pk,
                session.version,
                ChecklistInput(
                    systolic_bp_mmhg=128,
                    diastolic_bp_mmhg=78,
                    heart_rate_bpm=72,
                    respiratory_rate_per_min=14,
                    spo2_percent=98,
                    weight_kg=Decimal("80"),
                    escort_name="Escort",
                    escort_phone="416 555 0100",
                    last_solids_at=timezone.now() - dt.timedelta(hours=9),
                    last_clear_fluids_at=timezone.now() - dt.timedelta(hours=3),
                    pregnancy_test="not_applicable",
                    no_new_conditions_confirmed=True,
                ),
            )
            session.refresh_from_db()
            bag = DoubleCheckInput(
                drug="ketamine",
                bag_concentration_mg_per_ml=Decimal("1"),
                dose_value=Decimal("25"),
                dose_unit="mg/h",
                pump_rate_entered_ml_per_h=Decimal("25"),
            )
            services.do_prepare_bag(
                act(nurse),
                session.pk,
                session.version,
                PrepareBagInput(
                    vial_concentration_mg_per_ml=Decimal("10"),
                    drawn_mg=Decimal("100"),
                    vial_lot="LOAD",
                    drug=bag.drug,
                    bag_concentration_mg_per_ml=bag.bag_concentration_mg_per_ml,
                    dose_value=bag.dose_value,
                    dose_unit=bag.dose_unit,
                    pump_rate_entered_ml_per_h=bag.pump_rate_entered_ml_per_h,
                ),
            )
            session.refresh_from_db()
            services.do_double_check(act(nurse2), session.pk, session.version, bag)
            session.refresh_from_db()
            services.do_start(act(nurse), session.pk, session.version, StartInput(timezone.now()))
            sessions.append(session.pk)
    patients = list(Patient.objects.filter(portal_user__isnull=True).values_list("pk", flat=True))
    families = sorted(set(Patient.objects.values_list("legal_family_name", flat=True)))
    return {
        "users": users,
        "patients": patients,
        "weigh_patients": [p.pk for p in candidates],
        "sessions": sessions,
        "search_terms": [name[:4] for name in families],
    }


# --- the client -------------------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_VERSION = re.compile(r'name="expected_version" value="(\d+)"')
LOGIN_PATH = "/accounts/login/"
WRITES = ("observation", "weight")
Sample = tuple[str, int, float, str]  # page, HTTP status (0: no answer), ms, outcome


class Browser:
    """One signed-in person: a keep-alive connection and a cookie jar, nothing else."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, form: dict[str, Any] | None = None
    ) -> tuple[int, str, str]:
        """(status, Location, body) of one request; the connection is reopened when needed."""
        body = urllib.parse.urlencode(form or {}, doseq=True) if form is not None else None
        headers = {"Host": f"127.0.0.1:{self.port}", "Connection": "keep-alive"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S
                )
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed a kept-alive connection between requests: reconnect once.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            for cookie in response.msg.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if "expires=Thu, 01 Jan 1970" in cookie or value in ("", '""'):
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = value
            if response.getheader("Connection", "").lower() == "close":
                self.connection.close()
                self.connection = None
            return response.status, response.getheader("Location", ""), text
        raise AssertionError("unreachable")

    def sign_in(self, username: str) -> tuple[int, str]:
        """Sign in through the login page: (status, Location) of the form's POST."""
        status, location, page = self.request("GET", LOGIN_PATH)
        token = _TOKEN.search(page)
        if status != 200 or token is None:
            return status, location
        status, location, _ = self.request(
            "POST",
            LOGIN_PATH,
            {"csrfmiddlewaretoken": token.group(1), "username": username, "password": PASSWORD},
        )
        return status, location


def _classify(kind: str, status: int, location: str) -> str:
    if status >= 500:
        return "5xx"
    if kind == "sign_in":
        if status == 302 and not location.startswith(LOGIN_PATH):
            return "ok"
        return "4xx" if 400 <= status < 500 else "unexpected"
    if status == 302 and location.startswith(LOGIN_PATH):
        return "lost_session"
    if status == 400:
        # Django's answer when the session could not be saved (SessionInterrupted).
        return "lost_session"
    if kind in WRITES:
        if status == 302:
            return "ok"
        if status == 409:
            return "conflict"
        if status == 200:
            return "refused"  # the form came back with a message (a rule, not an error)
    elif status == 200:
        return "ok"
    return "4xx" if 400 <= status < 500 else "unexpected"


def _sign_in(
    port: int, username: str, samples: list[Sample], problems: list[str]
) -> Browser | None:
    """A signed-in browser (up to three tries, each one counted), or None."""
    for _ in range(3):
        browser = Browser(port)
        started = time.perf_counter()
        try:
            status, location = browser.sign_in(username)
        except Exception as error:
            samples.append(("sign_in", 0, (time.perf_counter() - started) * 1000, "failed"))
            problems.append(f"{username} sign_in: {error!r}")
            continue
        outcome = _classify("sign_in", status, location)
        samples.append(("sign_in", status, (time.perf_counter() - started) * 1000, outcome))
        if outcome == "ok":
            return browser
        problems.append(f"{username} sign_in: {status} {location}")
    return None


def _local_minute() -> str:
    return dt.datetime.now(CLINIC_ZONE).strftime("%Y-%m-%dT%H:%M")


def _client_loop(
    port: int,
    username: str,
    role: str,
    data: dict[str, Any],
    start_at: float,
    stop_at: float,
    seed: int,
    samples: list[Sample],
    problems: list[str],
    budget: threading.Semaphore,
) -> None:
    rng = random.Random(seed)
    browser = _sign_in(port, username, samples, problems)
    if browser is None:
        return
    while time.time() < start_at:
        time.sleep(0.01)
    pages = ["search", "detail", "board"]
    if role in ("nurse", "physician"):
        pages.append("chart")
    while time.time() < stop_at and budget.acquire(blocking=False):
        draw = rng.random()
        if role == "nurse" and draw < 0.10:
            kind = "observation"
        elif role == "nurse" and draw < 0.15:
            kind = "weight"
        else:
            kind = rng.choice(pages)
        started = time.perf_counter()
        try:
            if kind == "search":
                term = rng.choice(data["search_terms"])
                query = urllib.parse.urlencode({"q": term})
                status, location, _ = browser.request("GET", f"/patients/?{query}")
            elif kind == "detail":
                status, location, _ = browser.request(
                    "GET", f"/patients/{rng.choice(data['patients'])}/"
                )
            elif kind == "board":
                status, location, _ = browser.request("GET", "/scheduling/board/")
            elif kind == "chart":
                status, location, _ = browser.request(
                    "GET", f"/infusions/{rng.choice(data['sessions'])}/"
                )
            elif kind == "observation":
                path = f"/infusions/{rng.choice(data['sessions'])}/observe/"
                status, location, form_page = browser.request("GET", path)
                token, version = _TOKEN.search(form_page), _VERSION.search(form_page)
                if status == 200 and token and version:
                    status, location, _ = browser.request(
                        "POST",
                        path,
                        {
                            "csrfmiddlewaretoken": token.group(1),
                            "expected_version": version.group(1),
                            "observed_at": _local_minute(),
                            "systolic_bp_mmhg": rng.randint(110, 135),
                            "diastolic_bp_mmhg": rng.randint(65, 85),
                            "heart_rate_bpm": rng.randint(60, 90),
                            "respiratory_rate_per_min": rng.randint(12, 18),
                            "spo2_percent": rng.randint(96, 99),
                            "rass": "0",
                            "pain_nrs": rng.randint(2, 6),
                        },
                    )
            else:  # weight
                path = f"/patients/{rng.choice(data['weigh_patients'])}/weights/new/"
                status, location, form_page = browser.request("GET", path)
                token = _TOKEN.search(form_page)
                if status == 200 and token:
                    status, location, _ = browser.request(
                        "POST",
                        path,
                        {
                            "csrfmiddlewaretoken": token.group(1),
                            "weight_kg": f"{rng.uniform(79.0, 81.0):.1f}",
                            "height_cm": "175",
                            "measured_on": dt.datetime.now(CLINIC_ZONE).date().isoformat(),
                        },
                    )
        except Exception as error:
            samples.append((kind, 0, (time.perf_counter() - started) * 1000, "failed"))
            problems.append(f"{username} {kind}: {error!r}")
            browser = _sign_in(port, username, samples, problems)
            if browser is None:
                return
            continue
        elapsed = (time.perf_counter() - started) * 1000
        outcome = _classify(kind, status, location)
        samples.append((kind, status, elapsed, outcome))
        if outcome == "lost_session":
            problems.append(f"{username} {kind}: {status} {location}")
            browser = _sign_in(port, username, samples, problems)  # as the person would
            if browser is None:
                return
        if THINK_MS:
            time.sleep(rng.uniform(0, 2 * THINK_MS) / 1000)


def _client_process(
    port: int,
    people: list[tuple[str, str]],
    data: dict[str, Any],
    start_at: float,
    stop_at: float,
    seed: int,
    budget_count: int,
) -> tuple[list[Sample], list[str]]:
    samples: list[Sample] = []
    problems: list[str] = []
    budget = threading.Semaphore(budget_count)
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(port, name, role, data, start_at, stop_at, seed + i, samples, problems, budget),
        )
        for i, (name, role) in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, problems


# --- one database -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(fraction * len(ordered)) - 1)], 1) if ordered else 0.0


def _summary(samples: list[Sample]) -> dict[str, Any]:
    """Latency over the timed page views (sign-in apart); errors over every request."""
    by_kind: dict[str, list[float]] = {}
    for kind, _, ms, _ in samples:
        by_kind.setdefault(kind, []).append(ms)
    outcomes = Counter(outcome for *_, outcome in samples)
    statuses = Counter(str(status) for _, status, _, _ in samples)
    views = [ms for kind, _, ms, _ in samples if kind != "sign_in"]
    return {
        "requests": len(views),
        "sign_ins": len(by_kind.get("sign_in", [])),
        "p50_ms": round(statistics.median(views), 1) if views else 0.0,
        "p95_ms": _percentile(views, 0.95),
        "errors_5xx": outcomes["5xx"],
        "unexpected_4xx": outcomes["4xx"] + outcomes["unexpected"],
        "lost_sessions": outcomes["lost_session"],
        "failed_connections": outcomes["failed"],
        "write_conflicts_409": outcomes["conflict"],
        "writes_refused_with_message": outcomes["refused"],
        "writes_saved": sum(
            1 for kind, _, _, outcome in samples if kind in WRITES and outcome == "ok"
        ),
        "statuses": dict(sorted(statuses.items())),
        "pages": {
            kind: {
                "requests": len(values),
                "p50_ms": round(statistics.median(values), 1),
                "p95_ms": _percentile(values, 0.95),
            }
            for kind, values in sorted(by_kind.items())
        },
    }


def run_database(label: str, database_url: str | None, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="painclinic-load-") as data_dir:
        env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "PAINCLINIC_ENV": "development",
            "PAINCLINIC_DEBUG": "false",
            "PAINCLINIC_DATA_DIR": data_dir,
            "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
        }
        if database_url:
            env["DATABASE_URL"] = database_url
        subprocess.run(
            [*CLI, "demo", "--password", PASSWORD, "--patients", str(DEMO_PATIENTS)],
            env=env,
            check=True,
            capture_output=True,
            timeout=900,
        )
        code = (
            f"import json,sys; sys.path.insert(0, {str(HERE)!r}); import bench_load; "
            f"print(json.dumps(bench_load._setup({clients})))"
        )
        made = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900
        )
        if made.returncode != 0:
            raise RuntimeError(made.stderr[-3000:])
        data = json.loads(made.stdout.strip().splitlines()[-1])
        port = _free_port()
        log_path = Path(data_dir) / "server.log"
        with open(log_path, "w") as log:
            server = subprocess.Popen(
                [*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        with socket.create_connection(("127.0.0.1", port), timeout=1):
                            break
                    except OSError:
                        if time.monotonic() > deadline or server.poll() is not None:
                            raise RuntimeError(log_path.read_text()[-3000:]) from None
                        time.sleep(0.3)
                samples, problems, wall = _drive(port, data, clients)
            finally:
                server.terminate()
                server.wait(timeout=30)
        server_log = log_path.read_text(errors="replace")
        if os.environ.get("BENCH_LOAD_LOG_DIR"):
            kept = Path(os.environ["BENCH_LOAD_LOG_DIR"]) / f"server-{label}.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(server_log)
        summary = _summary(samples)
        summary |= {
            "database": label,
            "clients": clients,
            "seconds": SECONDS,
            "wall_s": round(wall, 1),
            "requests_per_s": round(summary["requests"] / wall, 1) if wall else 0.0,
            "server_log_database_locked": server_log.count("database is locked"),
            "server_log_tracebacks": server_log.count("Traceback (most recent call last)"),
            "server_log_errors": _server_errors(server_log),
            "problems": problems[:20],
        }
        if database_url:
            summary["audit_events_in_postgresql"] = _count_postgres_audit(database_url)
        return summary


def _server_errors(log: str, keep: int = 3) -> list[list[str]]:
    """The server log's tracebacks, each cut to the frames in painclinic and Django's session
    and database code and its last line; the first ``keep`` different ones."""
    found: list[list[str]] = []
    lines = log.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last)"):
            continue
        end = index + 1
        while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
            end += 1
        frames = [
            frame.strip()
            for frame in lines[index + 1 : end]
            if frame.strip().startswith("File ")
            and any(part in frame for part in ("painclinic", "sessions", "db/backends"))
        ]
        excerpt = [*frames, lines[end] if end < len(lines) else ""]
        if excerpt not in found:
            found.append(excerpt)
        if len(found) >= keep:
            break
    return found


def _drive(port: int, data: dict[str, Any], clients: int) -> tuple[list[Sample], list[str], float]:
    people = [tuple(person) for person in data["users"]]
    processes = min(CLIENT_PROCESSES, clients)
    groups = [people[i::processes] for i in range(processes)]
    # Sign-in (a slow password hash each) is outside the timed window: the loop starts when
    # everybody could have signed in.
    start_at = time.time() + 15 + clients * 0.6
    stop_at = start_at + SECONDS
    # The client processes find the loop by module name (bench/run.py loads this file by path).
    client_process = importlib.import_module("bench_load")._client_process
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        jobs = [
            pool.apply_async(
                client_process,
                (port, group, data, start_at, stop_at, 1000 * i, HARD_CAP_REQUESTS // processes),
            )
            for i, group in enumerate(groups)
        ]
        outputs = [job.get(timeout=SECONDS + 600 + clients) for job in jobs]
    samples = [sample for output in outputs for sample in output[0]]
    problems = [problem for output in outputs for problem in output[1]]
    return samples, problems, max(time.time(), stop_at) - start_at


def _count_postgres_audit(url: str) -> int:
    """The audit rows the run left in PostgreSQL: proof the server wrote there."""
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "seconds": SECONDS,
        "think_ms": THINK_MS,
        "databases": {},
    }
    for label in DATABASES:
        url = None
        if label == "postgresql":
            url = fresh_postgres(PG_URL)
            if url is None:
                continue
        summary = run_database(label, url, CLIENTS[label])
        results["databases"][label] = summary
        print(
            f"{label:<11} {summary['clients']:>3} clients  {summary['requests']:>6} requests "
            f"({summary['requests_per_s']}/s)  p50 {summary['p50_ms']} ms  "
            f"p95 {summary['p95_ms']} ms  5xx {summary['errors_5xx']}  "
            f"other 4xx {summary['unexpected_4xx']}  lost sessions {summary['lost_sessions']}  "
            f"409 {summary['write_conflicts_409']}  writes {summary['writes_saved']}  "
            f"'database is locked' in the log {summary['server_log_database_locked']}",
            flush=True,
        )
        for kind, page in summary["pages"].items():
            print(
                f"    {kind:<12} {page['requests']:>6}  p50 {page['p50_ms']:>7} ms  "
                f"p95 {page['p95_ms']:>7} ms"
            )
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out = HERE / "results" / "load.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
