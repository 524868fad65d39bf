"""`painclinic worker`: the background worker (follow-up planning and reminders, overdue-invoice
reminders).

Every ``PAINCLINIC_WORKER_TICK_SECONDS`` it puts one follow-up tick and one billing tick
(overdue-invoice reminders) on Django's task queue
(the database-backed ``django_tasks_db`` backend, on SQLite or PostgreSQL) unless one is
already waiting, then runs every task that is ready, with django-tasks-db's own worker.
``--once`` runs one tick in this process and prints what it did (for cron, or to see it work).
It refuses to start, with one line, on the same problems as ``painclinic serve``.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from types import FrameType

import typer

from painclinic.cli._io import refuse


def worker(
    once: bool = typer.Option(False, "--once", help="run one tick now, print it and stop"),
) -> None:
    """Run the background worker: follow-up time points, e-mail reminders, overdue invoices."""
    from painclinic.web.lib.startup import startup_refusal

    refusal = startup_refusal()
    if refusal:
        refuse(refusal.replace("refusing to serve", "refusing to start the worker"))

    from django.conf import settings

    from painclinic.web.accounts.services import system_actor
    from painclinic.web.lib.actor import Channel

    if once:
        from painclinic.web.billing.tasks import run_overdue_tick
        from painclinic.web.followup.tasks import run_tick

        actor = system_actor(Channel.CLI, "painclinic worker --once")
        report = run_tick(actor)
        typer.echo(
            f"follow-up: {report.series_planned} series planned, {report.series_replanned} "
            f"re-planned; reminders: {report.reminders_queued} queued, {report.reminders_sent} "
            f"sent, {report.reminders_failed} not sent"
        )
        overdue = run_overdue_tick(actor)
        typer.echo(
            f"overdue invoices: {overdue.sent} reminders sent, {overdue.failed} not sent, "
            f"{overdue.skipped} to call (no e-mail)"
        )
        return

    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    from painclinic.web.billing.tasks import run_billing_tick
    from painclinic.web.followup.tasks import run_followup_tick

    running = True

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    worker_id = f"{socket.gethostname()}-{os.getpid()}"
    ticks = [run_followup_tick, run_billing_tick]
    typer.echo(
        f"painclinic worker {worker_id}: a follow-up and a billing tick every "
        f"{settings.WORKER_TICK_SECONDS} s (Ctrl+C stops it)"
    )
    while running:
        for tick in ticks:
            if not DBTaskResult.objects.ready().filter(task_path=tick.module_path).exists():
                tick.enqueue()
        Worker(
            queue_names=["default"],
            interval=1,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        ).run()
        deadline = time.monotonic() + settings.WORKER_TICK_SECONDS
        while running and time.monotonic() < deadline:
            time.sleep(0.5)


def register(app: typer.Typer) -> None:
    """Attach ``worker`` to the main application."""
    app.command()(worker)
