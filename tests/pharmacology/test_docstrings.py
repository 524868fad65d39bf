"""Every public function documents each of its parameters (numpydoc style, checked simply)."""

from __future__ import annotations

import inspect

import pytest

import painclinic.pharmacology as pharmacology
from painclinic.pharmacology import dosing, pkpd, population, solver

PUBLIC = [getattr(pharmacology, name) for name in pharmacology.__all__]
NUMERICAL = [
    solver.disposition_rates,
    solver.convolve_first_order,
    solver.cascade_rates,
    solver.confluent_patients,
    solver.chain_response,
    solver.chain_propagator,
    solver.superpose_chains,
    solver.unit_response,
    solver.superpose,
    solver.solve,
    dosing.ordered_rate_mg_per_h,
    dosing.ideal_body_weight_kg,
    population.sample_parameters,
    pkpd.predict_crps_relief,
]


@pytest.mark.parametrize("name", sorted(pharmacology.__all__))
def test_public_objects_have_docstrings(name: str) -> None:
    obj = getattr(pharmacology, name)
    if isinstance(obj, dict):
        return
    assert inspect.getdoc(obj), name


@pytest.mark.parametrize(
    "fn",
    [f for f in PUBLIC + NUMERICAL if inspect.isfunction(f)],
    ids=lambda f: f.__name__,
)
def test_every_parameter_is_documented(fn: object) -> None:
    doc = inspect.getdoc(fn) or ""
    assert "Parameters" in doc or not inspect.signature(fn).parameters, fn  # type: ignore[arg-type]
    for name in inspect.signature(fn).parameters:  # type: ignore[arg-type]
        assert name in doc, f"{fn.__name__}: parameter {name!r} undocumented"  # type: ignore[attr-defined]
