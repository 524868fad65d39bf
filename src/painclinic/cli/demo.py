"""`painclinic demo`: demo users, fictitious patients and booked treatment series."""

from __future__ import annotations

import typer

from painclinic.cli._django import setup_django

DEFAULT_DEMO_PASSWORD = "painclinic-demo-2026"  # noqa: S105 - printed demo credential, documented

# What each demo role should try first (printed beside its login).
FIRST_TRY = {
    "physician": "your home page: co-signatures and decisions waiting; Jordan Whitfield's outcomes",
    "nurse": "the chair board, then open a chart and chart a round of observations",
    "frontdesk": "register a patient, book a treatment series, triage online referrals",
    "billing": "Jordan Whitfield's account: take a payment and print the receipt",
    "clinicadmin": "the audit report, staff accounts and the fee schedule",
    "patient": "the portal: today's questionnaire, invoices and receipts",
}


def demo(
    password: str = typer.Option(
        DEFAULT_DEMO_PASSWORD, help="password for every demo user (12 characters or more)"
    ),
    patients: int = typer.Option(40, min=0, help="number of fictitious patients to create"),
    host: str = typer.Option("127.0.0.1", help="the address the server will listen on (printed)"),
    port: int = typer.Option(8000, min=1, max=65535, help="the port it will listen on (printed)"),
) -> None:
    """Migrate if needed and load demo users (one per role) and fictitious patients. Idempotent."""
    setup_django()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    from painclinic.web.demo.registry import load_demo

    summary = load_demo(password=password, patient_count=patients)
    from painclinic.web.demo.treatment import load_treatment_demo

    treatment = load_treatment_demo()
    from painclinic.web.demo.followup import load_followup_demo

    followup = load_followup_demo()
    from painclinic.web.demo.billing import load_billing_demo

    billing = load_billing_demo()
    typer.echo("")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a display name
    typer.echo(f"Demo logins (open http://{shown_host}:{port}/):")
    for username, role in summary.users:
        typer.echo(f"  {username:<12} {role:<14} password: {password}")
        if username in FIRST_TRY:
            typer.echo(f"  {'':<12} try first: {FIRST_TRY[username]}")
    typer.echo(f"Patients in the registry: {summary.patient_total}")
    typer.echo(
        f"Demo treatment: {treatment.plans} new active ketamine plans with booked series; "
        "see the chair board."
    )
    if followup:
        typer.echo(
            "Demo follow-up: patient (Jordan Whitfield) finished a series a week ago; the "
            "1-week questionnaire is due today and its reminder e-mail appears on this console "
            "once the worker runs after 09:00."
        )
    if billing.invoices_issued:
        typer.echo(
            "Demo billing: sign in as billing (Tom Bergeron) for Jordan Whitfield's invoices: "
            "two sessions split with Sun Life (demo) 80/20, one session part paid, an insurer's "
            "report with HST; all amounts are DEMO VALUES."
        )
    typer.echo(
        "clinicadmin must set up two-factor sign-in at the first sign-in: scan the QR code it "
        "shows with an authenticator app (or type the key)."
    )


def register(app: typer.Typer) -> None:
    """Attach ``demo`` to the main application."""
    app.command()(demo)
