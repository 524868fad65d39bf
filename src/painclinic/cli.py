"""The one `painclinic` command: the pure cores, clinic operations, and Django management."""

from __future__ import annotations

import os

import typer

from painclinic import cli_clinical, cli_pharmacology

app = typer.Typer(
    help="painclinic: ketamine and lidocaine infusion programme for chronic pain.",
    no_args_is_help=True,
    add_completion=False,
)
audit_app = typer.Typer(help="Audit trail operations.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

DEFAULT_DEMO_PASSWORD = "painclinic-demo-2026"  # noqa: S105 - printed demo credential, documented


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "painclinic.web.settings")
    import django

    django.setup()


def _call_command(*args: str) -> None:
    _setup_django()
    from django.core.management import call_command

    call_command(*args)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Serve the clinic app (Django's server; use gunicorn in production)."""
    _setup_django()
    from django.core.management import call_command

    from painclinic.web.lib.durability import durability_problems

    problems = durability_problems()
    if problems:
        for problem in problems:
            typer.echo(f"refusing to serve: {problem}", err=True)
        raise typer.Exit(code=1)

    call_command("runserver", f"{host}:{port}", "--noreload")


@app.command()
def demo(
    password: str = typer.Option(
        DEFAULT_DEMO_PASSWORD, help="password for every demo user (12 characters or more)"
    ),
    patients: int = typer.Option(40, min=0, help="number of fictitious patients to create"),
) -> None:
    """Migrate if needed and load demo users (one per role) and fictitious patients. Idempotent."""
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    from painclinic.web.demo.registry import load_demo

    summary = load_demo(password=password, patient_count=patients)
    from painclinic.web.demo.treatment import load_treatment_demo

    treatment = load_treatment_demo()
    typer.echo("")
    typer.echo("Demo logins (open http://127.0.0.1:8000/):")
    for username, role in summary.users:
        typer.echo(f"  {username:<12} {role:<14} password: {password}")
    typer.echo(f"Patients in the registry: {summary.patient_total}")
    typer.echo(
        f"Demo treatment: {treatment.plans} new active ketamine plans with booked series; "
        "see the chair board."
    )
    typer.echo(
        "clinicadmin must set up two-factor sign-in at the first sign-in: scan the QR code it "
        "shows with an authenticator app (or type the key)."
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain; exit 1 naming the first bad event."""
    _setup_django()
    from painclinic.web.audit.chain import verify_chain

    report = verify_chain()
    if report.ok:
        typer.echo(f"audit trail intact: {report.checked} events verified")
        return
    typer.echo(f"audit trail BROKEN at event {report.first_bad_id}: {report.reason}", err=True)
    raise typer.Exit(code=1)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def manage(ctx: typer.Context) -> None:
    """Pass-through to Django management commands: painclinic manage migrate, ..."""
    _setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["painclinic manage", *ctx.args])


cli_pharmacology.register(app)
cli_clinical.register(app)


def main() -> None:
    app(prog_name="painclinic")


if __name__ == "__main__":
    main()
