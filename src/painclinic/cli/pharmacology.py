"""`painclinic pk ...` and `painclinic dose ...`: the pharmacology core on the command line.

Bad input (unreadable, non-UTF-8 or malformed JSON, a number that is not finite or out of
range, unknown drug/model/route, negative or missing amounts, a weight-based model without
weight, an infusion without a duration, neuraxial routes) prints one line naming the file or
the field to stderr and exits with status 2. ``dose calculate`` exits with status 1 when a hard
limit refuses the order.
"""

from __future__ import annotations

import csv
import io
import pathlib
from collections.abc import Callable
from typing import Annotated, Any

import typer

from painclinic.cli._io import EXIT_REFUSED, emit_json, fail, read_json, reported, source_name

pk_app = typer.Typer(help="Pharmacokinetic simulation (exact, closed form).", no_args_is_help=True)
dose_app = typer.Typer(
    help="Dose and pump-rate calculator with drug-library limits.", no_args_is_help=True
)


def _emit(data: Any) -> None:
    emit_json(data, indent=1, ascii_only=True)


def _compute[T](path: str, what: str, core: Callable[[dict[str, Any]], T]) -> T:
    """Read the JSON input and call the core on it; any problem exits 2 naming file or field."""
    from painclinic.pharmacology import PharmacologyInputError

    data = read_json(path, what)
    with reported(f"{what} in {source_name(path)}", PharmacologyInputError):
        return core(data)


def _write_plot(draw: Callable[[Any, pathlib.Path], Any], result: Any, path: pathlib.Path) -> None:
    try:
        draw(result, path)
    except OSError as exc:
        fail(f"--plot: cannot write {path}: {exc.strerror or exc}")


@pk_app.command("simulate")
def pk_simulate(
    regimen: Annotated[str, typer.Argument(help="regimen JSON file ('-' for stdin)")],
    format: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    plot: Annotated[pathlib.Path | None, typer.Option("--plot", help="PNG plot file")] = None,
) -> None:
    """Simulate one patient; print times and concentrations (mg/L) as JSON or CSV."""
    from painclinic.pharmacology import simulate

    if format not in ("json", "csv"):
        fail(f"--format: must be json or csv, got {format!r}")
    result = _compute(regimen, "regimen", simulate)
    if format == "json":
        _emit(result.to_dict())
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        cols = ["time_h", "plasma_mg_per_l", "effect_site_mg_per_l", "metabolite_mg_per_l"]
        writer.writerow(cols)
        for i, t in enumerate(result.times_h):
            row: list[Any] = [repr(float(t)), repr(float(result.plasma_mg_per_l[i]))]
            for arr in (result.effect_site_mg_per_l, result.metabolite_mg_per_l):
                row.append("" if arr is None else repr(float(arr[i])))
            writer.writerow(row)
        typer.echo(buf.getvalue(), nl=False)
        for w in result.warnings:
            typer.echo(f"warning: {w}", err=True)
    if plot is not None:
        from painclinic.pharmacology.plotting import plot_simulation

        _write_plot(plot_simulation, result, plot)


@pk_app.command("population")
def pk_population(
    regimen: Annotated[str, typer.Argument(help="regimen JSON file ('-' for stdin)")],
    n: Annotated[int, typer.Option("--n", help="number of virtual patients")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="random seed (reproducible)")] = 0,
    threshold_mg_per_l: Annotated[
        float | None,
        typer.Option("--threshold-mg-per-l", help="threshold (default lidocaine 5, ketamine 0.1)"),
    ] = None,
    plot: Annotated[pathlib.Path | None, typer.Option("--plot", help="PNG plot file")] = None,
) -> None:
    """Simulate N virtual patients; print percentile bands and threshold risk as JSON."""
    from painclinic.pharmacology import simulate_population

    result = _compute(
        regimen,
        "regimen",
        lambda data: simulate_population(
            data, n=n, seed=seed, threshold_mg_per_l=threshold_mg_per_l
        ),
    )
    _emit(result.to_dict())
    if plot is not None:
        from painclinic.pharmacology.plotting import plot_population

        _write_plot(plot_population, result, plot)


@pk_app.command("models")
def pk_models(
    format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """List every model with its citation, population and validity ranges."""
    from painclinic.pharmacology.models import DEFAULT_MODEL, MODELS

    if format == "json":
        _emit(
            [
                {
                    "name": s.name,
                    "drug": s.drug,
                    "title": s.title,
                    "citation": s.citation,
                    "population": s.population,
                    "age_range_years": s.age_range_years,
                    "weight_range_kg": s.weight_range_kg,
                    "units": s.units,
                    "iiv": s.iiv_source,
                    "notes": s.notes,
                    "default": DEFAULT_MODEL[s.drug] == s.name,
                }
                for s in MODELS.values()
            ]
        )
        return
    if format != "text":
        fail(f"--format: must be text or json, got {format!r}")

    def rng(r: tuple[float | None, float | None], unit: str) -> str:
        if r == (None, None):
            return "not stated"
        lo = "" if r[0] is None else f"{r[0]:g}"
        hi = "" if r[1] is None else f"{r[1]:g}"
        return f"{lo}–{hi} {unit}"

    for s in MODELS.values():
        default = " (default)" if DEFAULT_MODEL[s.drug] == s.name else ""
        typer.echo(f"{s.name}{default} [{s.drug}]: {s.title}")
        typer.echo(f"  citation:   {s.citation}")
        typer.echo(f"  population: {s.population}")
        typer.echo(
            f"  validity:   age {rng(s.age_range_years, 'y')}, "
            f"weight {rng(s.weight_range_kg, 'kg')}"
        )
        typer.echo(f"  units:      {s.units}")
        typer.echo(f"  notes:      {s.notes}")
        typer.echo("")
    typer.echo("custom: any 1-3 compartment model given as parameters in the regimen (no citation)")


@dose_app.command("calculate")
def dose_calculate(
    order: Annotated[str, typer.Argument(help="order JSON file ('-' for stdin)")],
    format: Annotated[str, typer.Option("--format", help="json or text")] = "json",
) -> None:
    """Compute mg/h, pump mL/h, volume and total, and check the drug library's limits.

    Exit status: 0 within limits or soft limit (reason required), 1 refused by a hard
    limit, 2 bad input.
    """
    from painclinic.pharmacology import calculate_infusion

    if format not in ("json", "text"):
        fail(f"--format: must be json or text, got {format!r}")
    calc = _compute(order, "order", calculate_infusion)
    if format == "json":
        _emit(calc.to_dict())
    else:
        for key, value in calc.display.items():
            typer.echo(f"{key:>15}: {value}")
        typer.echo(f"{'status':>15}: {calc.status}")
        for w in calc.warnings:
            typer.echo(f"warning: {w}")
    if calc.refused:
        raise typer.Exit(code=EXIT_REFUSED)


def register(app: typer.Typer) -> None:
    """Attach the pharmacology sub-commands (``pk``, ``dose``) to the main application."""
    app.add_typer(pk_app, name="pk")
    app.add_typer(dose_app, name="dose")
