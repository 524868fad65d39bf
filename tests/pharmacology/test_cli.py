"""`painclinic pk ...` and `painclinic dose ...` through Typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import pathlib
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from painclinic.cli import pharmacology as cli_pharmacology

REGIMEN: dict[str, Any] = {
    "drug": "ketamine",
    "model": "domino",
    "patient": {"weight_kg": 70, "height_cm": 170, "age_years": 45, "sex": "female"},
    "doses": [
        {"route": "iv_bolus", "time_h": 0, "amount_mg": 10},
        {"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 24.5, "duration_h": 4},
    ],
    "times_h": {"start": 0, "stop": 8, "step": 0.25},
}
ORDER: dict[str, Any] = {
    "drug": "ketamine",
    "patient": {"weight_kg": 70},
    "dose": {"value": 0.35, "unit": "mg/kg/h"},
    "duration_min": 240,
    "bag": {"concentration_mg_per_ml": 1},
}


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """painclinic (test root)."""

    cli_pharmacology.register(root)
    return root


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(tmp_path: pathlib.Path, data: Any, name: str = "in.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_pk_simulate_json_and_plot(
    app: typer.Typer, runner: CliRunner, tmp_path: pathlib.Path
) -> None:
    png = tmp_path / "plot.png"
    res = runner.invoke(app, ["pk", "simulate", write(tmp_path, REGIMEN), "--plot", str(png)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out["times_h"]) == 33 and len(out["plasma_mg_per_l"]) == 33
    assert out["metabolite_mg_per_l"] is not None
    assert png.stat().st_size > 10_000


def test_pk_simulate_csv(app: typer.Typer, runner: CliRunner, tmp_path: pathlib.Path) -> None:
    res = runner.invoke(app, ["pk", "simulate", write(tmp_path, REGIMEN), "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["time_h", "plasma_mg_per_l", "effect_site_mg_per_l", "metabolite_mg_per_l"]
    assert len(rows) == 34


def test_pk_population(app: typer.Typer, runner: CliRunner, tmp_path: pathlib.Path) -> None:
    png = tmp_path / "pop.png"
    res = runner.invoke(
        app,
        [
            "pk",
            "population",
            write(tmp_path, REGIMEN),
            "--n",
            "200",
            "--seed",
            "4",
            "--threshold-mg-per-l",
            "0.2",
            "--plot",
            str(png),
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n"] == 200 and out["threshold_mg_per_l"] == 0.2
    assert 0 <= out["probability_exceeding"] <= 1
    assert png.exists()


def test_pk_models_lists_every_model_with_citation(app: typer.Typer, runner: CliRunner) -> None:
    from painclinic.pharmacology import MODELS

    res = runner.invoke(app, ["pk", "models"])
    assert res.exit_code == 0
    for spec in MODELS.values():
        assert spec.name in res.stdout
        assert spec.citation in res.stdout
    res = runner.invoke(app, ["pk", "models", "--format", "json"])
    assert {m["name"] for m in json.loads(res.stdout)} == set(MODELS)


def test_dose_calculate(app: typer.Typer, runner: CliRunner, tmp_path: pathlib.Path) -> None:
    res = runner.invoke(app, ["dose", "calculate", write(tmp_path, ORDER)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["rate_ml_per_h"] == 24.5 and out["status"] == "within"
    res = runner.invoke(app, ["dose", "calculate", write(tmp_path, ORDER), "--format", "text"])
    assert "24.5 mL/h" in res.stdout


def test_refused_order_exits_1(app: typer.Typer, runner: CliRunner, tmp_path: pathlib.Path) -> None:
    order = ORDER | {"bag": {"concentration_mg_per_ml": 100}}
    res = runner.invoke(app, ["dose", "calculate", write(tmp_path, order)])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["status"] == "hard_limit"


def dose_(**d: Any) -> dict[str, Any]:
    return REGIMEN | {"doses": [d]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("{malformed", "malformed JSON"),
        (REGIMEN | {"drug": "propofol"}, "drug"),
        (REGIMEN | {"model": "schnider"}, "model"),
        (dose_(route="buccal", time_h=0, amount_mg=5), "doses[0].route"),
        (dose_(route="iv_bolus", time_h=0, amount_mg=-5), "doses[0].amount_mg"),
        (dose_(route="iv_bolus", time_h=0), "doses[0].amount_mg"),
        (REGIMEN | {"patient": {"age_years": 40}}, "patient.weight_kg"),
        (dose_(route="iv_infusion", time_h=0, rate_mg_per_h=20), "doses[0].duration_h"),
        (dose_(route="intrathecal", time_h=0, amount_mg=1), "doses[0].route"),
    ],
)
@pytest.mark.parametrize("command", ["simulate", "population"])
def test_pk_bad_input_exits_2_naming_the_field(
    app: typer.Typer,
    runner: CliRunner,
    tmp_path: pathlib.Path,
    payload: Any,
    field: str,
    command: str,
) -> None:
    res = runner.invoke(app, ["pk", command, write(tmp_path, payload)])
    assert res.exit_code == 2, res.output
    assert field in res.stderr
    if "intrathecal" in json.dumps(payload):
        assert "neurotoxic" in res.stderr


def test_missing_file_exits_2(app: typer.Typer, runner: CliRunner, tmp_path: pathlib.Path) -> None:
    res = runner.invoke(app, ["pk", "simulate", str(tmp_path / "nope.json")])
    assert res.exit_code == 2
    assert "regimen" in res.stderr


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("[1, 2", "malformed JSON"),
        (ORDER | {"drug": "morphine"}, "drug"),
        (ORDER | {"dose": {"value": -0.35, "unit": "mg/kg/h"}}, "dose.value"),
        (ORDER | {"dose": {"unit": "mg/kg/h"}}, "dose.value"),
        (ORDER | {"patient": {}}, "patient.weight_kg"),
        (ORDER | {"duration_min": None}, "duration_min"),
        (ORDER | {"dose": {"value": 1, "unit": "units"}}, "dose.unit"),
    ],
)
def test_dose_bad_input_exits_2_naming_the_field(
    app: typer.Typer, runner: CliRunner, tmp_path: pathlib.Path, payload: Any, field: str
) -> None:
    res = runner.invoke(app, ["dose", "calculate", write(tmp_path, payload)])
    assert res.exit_code == 2, res.output
    assert field in res.stderr


def test_unwritable_plot_path_exits_2(
    app: typer.Typer, runner: CliRunner, tmp_path: pathlib.Path
) -> None:
    bad = tmp_path / "missing-dir" / "plot.png"
    res = runner.invoke(app, ["pk", "simulate", write(tmp_path, REGIMEN), "--plot", str(bad)])
    assert res.exit_code == 2
    assert "--plot" in res.stderr
