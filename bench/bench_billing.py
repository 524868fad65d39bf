"""Billing pages and the receipt PDF with the large data set, in-process, on SQLite and PostgreSQL.

Data: 10,000 patients, each with a ketamine plan and 7 signed infusion sessions (16 a day over
8 chairs up to today, a patient's sessions weeks apart), 6 of them invoiced (60,000 invoices,
two lines each, with their charges) and paid by 10 payments (100,000: partial, full, one
unapplied deposit; about 90,000 allocations). The rows are written with bulk_create in
batches (this is bench seeding, not the app's behaviour); the invoice sequence is then moved
above the highest number. A probe patient goes through the real services first: three
sessions invoiced (one split with an extended-health plan), payments and a partial credit
note, on today's date, so today's close page holds the probe's entries among the bulk rows.

Pages, as a billing clerk: the invoice page (``billing:invoice``), the patient's account page
(``billing:patient``) and the daily close page of today (``billing:day``, a busy day), next to
``/accounts/ping/`` as the framework floor, measured in the same run. Query counts are taken
on the probe's pages with the probe alone and again with the full data: they must not grow.
Also the time to render one receipt PDF (``billing.receipts.invoice_pdf``; target under 1 s).

Quick run: ``BENCH_PATIENTS=300 BENCH_REQUESTS=30 BENCH_DATABASES=sqlite python bench/run.py
bench_billing``. ``BENCH_PROFILE_DIR=dir`` writes a cProfile and the SQL of each page there.
Prints a table and writes bench/results/billing.json. Target: p95 within 5x the floor's p95.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pagebench import fresh_postgres, run_child, time_pages

HERE = Path(__file__).resolve().parent
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
SESSIONS_PER_PATIENT = 7  # 6 invoiced, the last one signed and not yet billed
INVOICES_PER_PATIENT = 6
PAYMENTS_PER_PATIENT = 10
CHAIRS = 8
SESSIONS_PER_DAY = 16
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
PDF_RUNS = int(os.environ.get("BENCH_PDF_RUNS", "10"))
BATCH = 5000
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR", "")
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
PG_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/painclinic_bench_billing"
)
SESSION_CENTS = 45_000
SUPPLIES_CENTS = 2_550
INVOICE_CENTS = SESSION_CENTS + SUPPLIES_CENTS


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
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from painclinic.web.accounts.models import Role, User
    from painclinic.web.billing import services as billing
    from painclinic.web.billing.models import (
        Allocation,
        Charge,
        ChargeKind,
        Invoice,
        InvoiceKind,
        InvoiceLine,
        InvoiceSequence,
        Payer,
        PayerKind,
        Payment,
        PaymentKind,
        PaymentMethod,
    )
    from painclinic.web.demo.registry import build_patient, valid_health_number
    from painclinic.web.demo.treatments import load_fee_schedule
    from painclinic.web.infusions.models import InfusionSession, SessionStatus
    from painclinic.web.lib.clinicdate import clinic_today
    from painclinic.web.lib.clinictime import to_utc
    from painclinic.web.lib.service import Actor, Channel
    from painclinic.web.patients.models import ExternalPhysician, Patient, WeightMeasurement
    from painclinic.web.scheduling.models import Booking, Chair
    from painclinic.web.treatments.models import PlannedSession, TreatmentPlan

    build: dict[str, float] = {}
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    t = _timed("migrate_s", build, t)
    rng = random.Random(13)
    password = "bench-password-123"
    clerks = [
        User.objects.create_user(f"bench_billing{i}", password=password, role=Role.BILLING)
        for i in range(3)
    ]
    clerk = clerks[0]
    nurse = User.objects.create_user("bench_rn", password=password, role=Role.NURSE)
    physician = User.objects.create_user(
        "bench_md",
        password=password,
        role=Role.PHYSICIAN,
        first_name="Amara",
        last_name="Okafor",
        registration_number="CPSO 98765",
    )
    admin = User.objects.create_user("bench_admin", password=password, role=Role.CLINIC_ADMIN)

    def as_cli(user: User) -> Actor:
        return Actor.for_user(user, Channel.CLI, "bench")

    load_fee_schedule(as_cli(admin))
    today = clinic_today()
    now = timezone.now()
    physicians = [ExternalPhysician.objects.create(name=f"Dr. Bench {i}") for i in range(4)]
    cards: set[str] = set()
    steps = [
        {
            "label": "maintenance",
            "start_min": 0,
            "duration_min": 240,
            "rate_mg_per_h": 20,
            "rate_ml_per_h": 20,
            "concentration_mg_per_ml": 1,
            "total_mg": 80,
        }
    ]

    def add_patients(count: int) -> list[int]:
        batch = []
        for _ in range(count):
            patient = build_patient(rng, physicians)
            while patient.health_card_number in cards:
                patient.health_card_number = valid_health_number(rng)
            cards.add(patient.health_card_number)
            patient.refresh_derived_fields()
            batch.append(patient)
        made = Patient.objects.bulk_create(batch, batch_size=1000)
        if made and made[0].pk is None:  # SQLite before RETURNING: read the ids back
            return list(Patient.objects.order_by("-pk").values_list("pk", flat=True)[:count])[::-1]
        return [p.pk for p in made]

    def signed_sessions(
        patient_ids: list[int], chairs: list[Chair], first_day: dt.date
    ) -> dict[int, list[InfusionSession]]:
        """Per patient: a plan, 7 planned sessions, their bookings and signed sessions; session
        n of patient p is the (n * patients + p)-th slot, 16 a day from ``first_day``."""
        WeightMeasurement.objects.bulk_create(
            [
                WeightMeasurement(
                    patient_id=pk,
                    weight_kg=Decimal("80"),
                    height_cm=Decimal("170"),
                    measured_on=first_day,
                    recorded_by=nurse,
                    recorded_at=now,
                )
                for pk in patient_ids
            ],
            batch_size=BATCH,
        )
        wanted = set(patient_ids)
        weights = {
            patient_id: pk
            for patient_id, pk in WeightMeasurement.objects.values_list("patient_id", "pk")
            if patient_id in wanted
        }
        TreatmentPlan.objects.bulk_create(
            [
                TreatmentPlan(
                    patient_id=pk,
                    drug="ketamine",
                    protocol_id="ket-crps-outpatient",
                    protocol_version="bench",
                    weight_id=weights[pk],
                    dosing_weight_kg=Decimal("80"),
                    plan_data={"bench": True},
                    limit_status="within",
                    status="completed",
                    prescribed_by=physician,
                    prescribed_at=now,
                )
                for pk in patient_ids
            ],
            batch_size=BATCH,
        )
        plan_of = {
            patient_id: plan_id
            for plan_id, patient_id in TreatmentPlan.objects.values_list("pk", "patient_id")
            if patient_id in wanted
        }
        PlannedSession.objects.bulk_create(
            [
                PlannedSession(
                    plan_id=plan_of[pk],
                    number=n + 1,
                    day_offset=7 * n,
                    duration_min=240,
                    total_mg=80,
                    steps=steps,
                )
                for pk in patient_ids
                for n in range(SESSIONS_PER_PATIENT)
            ],
            batch_size=BATCH,
        )
        plans = set(plan_of.values())
        planned = {
            (plan_id, number): pk
            for pk, plan_id, number in PlannedSession.objects.values_list("pk", "plan_id", "number")
            if plan_id in plans
        }
        bookings = []
        for n in range(SESSIONS_PER_PATIENT):
            for p, pk in enumerate(patient_ids):
                index = n * len(patient_ids) + p
                day = first_day + dt.timedelta(days=index // SESSIONS_PER_DAY)
                slot = index % SESSIONS_PER_DAY
                starts = to_utc(day, dt.time(8 + 4 * (slot // CHAIRS), 0))
                bookings.append(
                    Booking(
                        patient_id=pk,
                        chair=chairs[slot % CHAIRS],
                        plan_id=plan_of[pk],
                        planned_session_id=planned[(plan_of[pk], n + 1)],
                        starts_at=starts,
                        ends_at=starts + dt.timedelta(hours=4),
                        status="completed",
                        booked_by=nurse,
                        booked_at=now,
                    )
                )
        Booking.objects.bulk_create(bookings, batch_size=BATCH)
        chair_ids = {chair.pk for chair in chairs}
        rows = [
            row
            for row in Booking.objects.filter(chair_id__in=chair_ids).values_list(
                "pk", "patient_id", "plan_id", "planned_session_id"
            )
        ]
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
                for booking_id, patient_id, plan_id, planned_id in rows
            ],
            batch_size=BATCH,
        )
        out: dict[int, list[InfusionSession]] = {pk: [] for pk in patient_ids}
        for session in (
            InfusionSession.objects.filter(booking__chair_id__in=chair_ids)
            .select_related("booking", "planned_session")
            .order_by("planned_session__number")
        ):
            out[session.patient_id].append(session)
        return out

    # --- the probe, through the services ----------------------------------------------------
    probe_chairs = [Chair.objects.create(name=f"Probe chair {i + 1}") for i in range(CHAIRS)]
    (probe_id,) = add_patients(1)
    probe_sessions = signed_sessions([probe_id], probe_chairs, today - dt.timedelta(days=2))
    as_clerk = as_cli(clerk)
    payer = billing.do_add_payer(
        as_clerk,
        billing.PayerInput(name="Sun Life (bench)", kind=PayerKind.PRIVATE_PLAN, address="Toronto"),
    )
    coverage = billing.do_add_coverage(
        as_clerk,
        probe_id,
        billing.CoverageInput(
            payer_id=payer.pk, payer_share_basis_points=8000, plan_name="Group", member_id="M1"
        ),
    )
    first, second, third = probe_sessions[probe_id][:3]
    one = billing.do_issue_session_invoice(as_clerk, probe_id, [first.pk]).patient_invoice
    split = billing.do_issue_session_invoice(
        as_clerk, probe_id, [second.pk], coverage_id=coverage.pk
    )
    three = billing.do_issue_session_invoice(as_clerk, probe_id, [third.pk]).patient_invoice
    assert one is not None and three is not None and split.patient_invoice is not None
    card = PaymentMethod.CREDIT_CARD
    billing.do_record_payment(
        as_clerk, one.pk, billing.PaymentInput(amount_cents=20_000, method=card)
    )
    billing.do_record_payment(
        as_clerk,
        one.pk,
        billing.PaymentInput(amount_cents=10_000, method=PaymentMethod.CASH),
    )
    billing.do_record_payment(
        as_clerk,
        split.patient_invoice.pk,
        billing.PaymentInput(amount_cents=split.patient_invoice.total_cents, method=card),
    )
    billing.do_issue_credit_note(
        as_clerk, three.pk, billing.CreditInput(reason="Goodwill", full=False, amount_cents=5_000)
    )
    billing.do_record_payment(
        as_clerk,
        three.pk,
        billing.PaymentInput(amount_cents=three.total_cents - 5_000, method=card),
    )
    probe_invoice = one
    client = Client()
    client.force_login(clerk)
    urls = {
        "invoice": reverse("billing:invoice", kwargs={"invoice_id": probe_invoice.pk}),
        "patient account": reverse("billing:patient", kwargs={"patient_id": probe_id}),
        "patient statement": reverse("billing:statement", kwargs={"patient_id": probe_id}),
        "daily close (today)": reverse("billing:day", kwargs={"day": today.isoformat()}),
    }

    def count_queries(url: str) -> int:
        """Fewest queries of three requests (a session save now and then is not the page's)."""
        counts = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as captured:
                status = client.get(url).status_code
            assert status == 200, (url, status)
            counts.append(len(captured))
        return min(counts)

    queries_small = {name: count_queries(url) for name, url in urls.items()}
    home_clients = _home_clients(physician, nurse, clerk, admin, password)
    homes_small = {label: _home_queries(c) for label, c in home_clients.items()}
    t = _timed("probe_s", build, t)

    # --- the large data set -----------------------------------------------------------------
    patient_ids = add_patients(PATIENTS)
    chairs = [Chair.objects.create(name=f"Bench chair {i + 1}") for i in range(CHAIRS)]
    days_needed = -(-PATIENTS * SESSIONS_PER_PATIENT // SESSIONS_PER_DAY)
    # The days end today (the probe's day is one of the busy days).
    first_day = today - dt.timedelta(days=days_needed - 1)
    sessions = signed_sessions(patient_ids, chairs, first_day)
    t = _timed("patients_sessions_s", build, t)

    plan_of = {pk: sessions[pk][0].plan_id for pk in patient_ids}
    # One session a patient not billed yet, a different one for each patient (so that every
    # day, today included, has its invoices: session n of all patients lie on the same days).
    billed = {
        pk: [s for n, s in enumerate(sessions[pk]) if n != p % SESSIONS_PER_PATIENT]
        for p, pk in enumerate(patient_ids)
    }
    start_number = (Invoice.objects.aggregate(m=Max("number"))["m"] or 0) + 1
    patient_rows = {
        pk: (f"{given} {family}", f"{line}\n{city} ON {postal}")
        for pk, given, family, line, city, postal in Patient.objects.values_list(
            "pk", "legal_given_name", "legal_family_name", "address_line", "city", "postal_code"
        )
    }
    invoices = []
    number = start_number
    for pk in patient_ids:
        name, address = patient_rows[pk]
        for session in billed[pk]:
            day = timezone.localtime(session.booking.starts_at).date()
            invoices.append(
                Invoice(
                    number=number,
                    kind=InvoiceKind.INVOICE,
                    patient_id=pk,
                    bill_to_name=name,
                    bill_to_address=address,
                    plan_id=plan_of[pk],
                    provider=physician,
                    provider_name="Dr. Amara Okafor",
                    provider_registration="CPSO 98765",
                    issued_on=day,
                    due_on=day + dt.timedelta(days=30),
                    issued_at=session.booking.ends_at,
                    issued_by=clerks[number % len(clerks)],
                    subtotal_cents=INVOICE_CENTS,
                    tax_cents=0,
                    total_cents=INVOICE_CENTS,
                )
            )
            number += 1
    Invoice.objects.bulk_create(invoices, batch_size=BATCH)
    invoice_ids = dict(Invoice.objects.filter(number__gte=start_number).values_list("number", "pk"))
    by_session: list[tuple[int, InfusionSession, int]] = []  # (invoice pk, session, patient)
    number = start_number
    for pk in patient_ids:
        for session in billed[pk]:
            by_session.append((invoice_ids[number], session, pk))
            number += 1
    InvoiceSequence.objects.update_or_create(
        name=billing.SEQUENCE_NAME, defaults={"next_number": number}
    )
    lines = []
    charges = []
    for invoice_id, session, pk in by_session:
        day = timezone.localtime(session.booking.starts_at).date()
        n = session.planned_session.number
        for position, (code, text, cents) in enumerate(
            (
                ("DEMO-KET-SESSION", f"Ketamine infusion session {n}, 240 min", SESSION_CENTS),
                ("DEMO-SUPPLIES", "Pump set, line and ECG electrodes", SUPPLIES_CENTS),
            ),
            start=1,
        ):
            lines.append(
                InvoiceLine(
                    invoice_id=invoice_id,
                    position=position,
                    fee_code=code,
                    description=text,
                    service_date=day,
                    quantity=1,
                    unit_cents=cents,
                    amount_cents=cents,
                    full_amount_cents=cents,
                    tax_category="exempt_health",
                    tax_cents=0,
                    drug="ketamine",
                    session_minutes=240,
                    session_id=session.pk,
                )
            )
        charges.append(
            Charge(
                kind=ChargeKind.SESSION,
                patient_id=pk,
                plan_id=session.plan_id,
                session_id=session.pk,
                booking_id=session.booking_id,
                invoice_id=invoice_id,
                created_at=now,
            )
        )
    InvoiceLine.objects.bulk_create(lines, batch_size=BATCH)
    Charge.objects.bulk_create(charges, batch_size=BATCH)
    # As the billing services do when they charge a session (the worklist's partial index).
    InfusionSession.objects.filter(charges__isnull=False).update(billed=True)
    del lines, charges
    t = _timed("invoices_lines_charges_s", build, t)

    # Ten payments a patient: invoices 1-3 in two parts, 4 and 5 in full, 6 partly; a deposit.
    methods = [m for m in PaymentMethod.values if m != PaymentMethod.INSURER]
    payments = []
    targets: list[int | None] = []
    by_patient: dict[int, list[tuple[int, InfusionSession]]] = {}
    for invoice_id, session, pk in by_session:
        by_patient.setdefault(pk, []).append((invoice_id, session))
    for pk in patient_ids:
        for index, (invoice_id, session) in enumerate(by_patient[pk]):
            day = timezone.localtime(session.booking.starts_at).date()
            if index < 3:
                parts = [(day, 20_000), (min(day + dt.timedelta(days=14), today), 27_550)]
            elif index < 5:
                parts = [(day, INVOICE_CENTS)]
            else:
                parts = [(day, 10_000)]
            for received_on, cents in parts:
                payments.append(
                    Payment(
                        kind=PaymentKind.PAYMENT,
                        patient_id=pk,
                        method=methods[len(payments) % len(methods)],
                        amount_cents=cents,
                        received_on=received_on,
                        received_at=to_utc(received_on, dt.time(13, 30)),
                        received_by=clerks[len(payments) % len(clerks)],
                    )
                )
                targets.append(invoice_id)
        first_day_of = timezone.localtime(by_patient[pk][0][1].booking.starts_at).date()
        payments.append(
            Payment(
                kind=PaymentKind.DEPOSIT,
                patient_id=pk,
                plan_id=plan_of[pk],
                method=PaymentMethod.DEBIT,
                amount_cents=5_000,
                received_on=first_day_of,
                received_at=to_utc(first_day_of, dt.time(8, 0)),
                received_by=clerk,
            )
        )
        targets.append(None)
    first_payment = (Payment.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
    Payment.objects.bulk_create(payments, batch_size=BATCH)
    payment_ids = list(
        Payment.objects.filter(pk__gte=first_payment).order_by("pk").values_list("pk", flat=True)
    )
    assert len(payment_ids) == len(payments)
    Allocation.objects.bulk_create(
        [
            Allocation(
                payment_id=payment_id,
                invoice_id=invoice_id,
                amount_cents=payment.amount_cents,
                created_at=payment.received_at,
                created_by=payment.received_by,
            )
            for payment_id, payment, invoice_id in zip(payment_ids, payments, targets, strict=True)
            if invoice_id is not None
        ],
        batch_size=BATCH,
    )
    del payments, targets
    # Each invoice's standing, as the billing signals keep it when the services write (bulk
    # inserts send no signals).
    from painclinic.web.billing.services import rebuild_standings

    rebuild_standings()
    t = _timed("payments_allocations_s", build, t)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    t = _timed("analyze_s", build, t)
    counts = {
        "patients": Patient.objects.count(),
        "infusion_sessions": InfusionSession.objects.count(),
        "invoices": Invoice.objects.count(),
        "invoice_lines": InvoiceLine.objects.count(),
        "payments": Payment.objects.count(),
        "allocations": Allocation.objects.count(),
        "payers": Payer.objects.count(),
        "busy_day": today.isoformat(),
        "invoices_on_busy_day": Invoice.objects.filter(issued_on=today).count(),
        "payments_on_busy_day": Payment.objects.filter(received_on=today).count(),
    }

    queries_large = {name: count_queries(url) for name, url in urls.items()}
    homes_large = {label: _home_queries(c) for label, c in home_clients.items()}
    bulk_invoices = list(invoice_ids.values())
    sample_invoices = rng.sample(bulk_invoices, min(REQUESTS, len(bulk_invoices)))
    sample_patients = rng.sample(patient_ids, min(REQUESTS, len(patient_ids)))
    pages = {
        "floor (ping)": lambda i: "/accounts/ping/",
        "invoice": lambda i: reverse(
            "billing:invoice", kwargs={"invoice_id": sample_invoices[i % len(sample_invoices)]}
        ),
        "patient account": lambda i: reverse(
            "billing:patient", kwargs={"patient_id": sample_patients[i % len(sample_patients)]}
        ),
        "patient statement": lambda i: reverse(
            "billing:statement", kwargs={"patient_id": sample_patients[i % len(sample_patients)]}
        ),
        "daily close (today)": lambda i: urls["daily close (today)"],
    }
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
            profiler.dump_stats(str(Path(PROFILE_DIR) / f"billing-{database_label}-{slug}.pstats"))
            with CaptureQueriesContext(connection) as captured:
                client.get(url_for(0))
            (Path(PROFILE_DIR) / f"billing-{database_label}-{slug}.sql").write_text(
                "\n".join(f"{q['time']} {q['sql']}" for q in captured.captured_queries)
            )
        results[name]["queries"] = count_queries(url_for(0))
        if name in queries_small:
            results[name]["queries_small_db"] = queries_small[name]
            results[name]["queries_large_db"] = queries_large[name]

    # --- each staff role's home page, as that role, beside the floor in the same run --------
    for label, home_client in home_clients.items():
        timed = time_pages(
            home_client,
            {
                "floor (ping)": lambda i: "/accounts/ping/",
                label: lambda i: reverse("worklist:today"),
            },
            REQUESTS,
        )
        results[label] = timed[label]
        results[label]["floor_p95_ms"] = timed["floor (ping)"]["p95_ms"]
        results[label]["queries"] = _home_queries(home_client)
        if PROFILE_DIR:
            with CaptureQueriesContext(connection) as captured:
                home_client.get(reverse("worklist:today"))
            slug = "".join(c if c.isalnum() else "_" for c in label)
            (Path(PROFILE_DIR) / f"billing-{database_label}-{slug}.sql").write_text(
                "\n".join(f"{q['time']} {q['sql']}" for q in captured.captured_queries)
            )
        results[label]["queries_small_db"] = homes_small[label]
        results[label]["queries_large_db"] = homes_large[label]

    # --- one receipt PDF --------------------------------------------------------------------
    from painclinic.web.billing.receipts import invoice_pdf

    def pdf_seconds(invoice: Invoice) -> list[float]:
        invoice_pdf(invoice)  # warm-up: fonts and templates loaded once per process
        runs = []
        for _ in range(PDF_RUNS):
            started = time.perf_counter()
            content = invoice_pdf(invoice)
            runs.append(time.perf_counter() - started)
            assert content.startswith(b"%PDF"), "not a PDF"
        return runs

    split_invoice = Invoice.objects.get(pk=split.patient_invoice.pk)
    pdf_runs = pdf_seconds(Invoice.objects.get(pk=probe_invoice.pk)) + pdf_seconds(split_invoice)
    pdf = {
        "runs": len(pdf_runs),
        "median_s": statistics.median(pdf_runs),
        "max_s": max(pdf_runs),
    }
    return {"results": results, "pdf": pdf, "build_seconds": build, "counts": counts}


def _home_clients(physician, nurse, clerk, admin, password: str) -> dict:
    """A signed-in client per staff role for its home page (worklist:today); the clinic admin
    with a verified second factor, as the role requires."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from painclinic.web.accounts.models import Role, User

    desk = User.objects.create_user("bench_fd", password=password, role=Role.FRONT_DESK)
    clients = {}
    for label, user in (
        ("home: physician", physician),
        ("home: nurse", nurse),
        ("home: front desk", desk),
        ("home: billing", clerk),
        ("home: clinic admin", admin),
    ):
        client = Client()
        client.force_login(user)
        if user.role == Role.CLINIC_ADMIN:
            device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        clients[label] = client
    return clients


def _home_queries(client) -> int:
    """Fewest queries of three home-page requests (as ``count_queries``)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    counts = []
    for _ in range(3):
        with CaptureQueriesContext(connection) as captured:
            status = client.get(reverse("worklist:today")).status_code
        assert status == 200, ("worklist:today", status)
        counts.append(len(captured))
    return min(counts)


def _run_child(database_url: str | None) -> dict | None:
    return run_child("bench_billing", database_url)


def _prepare_postgres() -> str | None:
    return fresh_postgres(PG_URL)


def main() -> None:
    report: dict = {
        "patients": PATIENTS,
        "invoices": PATIENTS * INVOICES_PER_PATIENT,
        "payments": PATIENTS * PAYMENTS_PER_PATIENT,
        "requests_per_page": REQUESTS,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "target": (
            "p95 within 5x the floor's p95 (role home pages: 3x); queries constant with the "
            "data; a receipt PDF under 1 s"
        ),
        "databases": {},
    }
    runs: dict[str, str | None] = {"sqlite": None} if "sqlite" in DATABASES else {}
    pg = _prepare_postgres() if "postgresql" in DATABASES else None
    if pg:
        runs["postgresql"] = pg
    print(
        f"{'database':<11} {'page':<20} {'p50 ms':>8} {'p95 ms':>8} {'p95/floor':>9} "
        f"{'queries':>7} {'small/full':>10}"
    )
    for database, url in runs.items():
        outcome = _run_child(url)
        if outcome is None:
            continue
        results = outcome["results"]
        floor = results["floor (ping)"]["p95_ms"]
        for page, figures in results.items():
            # A role's home page is timed beside its own floor run (its own signed-in client).
            figures["p95_over_floor"] = figures["p95_ms"] / figures.get("floor_p95_ms", floor)
            growth = (
                f"{figures['queries_small_db']}/{figures['queries_large_db']}"
                if "queries_small_db" in figures
                else ""
            )
            print(
                f"{database:<11} {page:<20} {figures['p50_ms']:8.2f} {figures['p95_ms']:8.2f} "
                f"{figures['p95_over_floor']:9.2f} {figures['queries']:7d} {growth:>10}"
            )
        pdf = outcome["pdf"]
        print(
            f"{database:<11} receipt PDF: median {pdf['median_s'] * 1000:.0f} ms, "
            f"max {pdf['max_s'] * 1000:.0f} ms over {pdf['runs']} renders (target < 1 s)"
        )
        print(f"{database:<11} data: {outcome['counts']}")
        print(f"{database:<11} build seconds: {outcome['build_seconds']}")
        report["databases"][database] = outcome
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "billing.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
