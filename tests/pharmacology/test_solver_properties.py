"""Properties of a linear system: dose proportionality, superposition, time invariance."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from painclinic.pharmacology import simulate

positive = st.floats(min_value=0.05, max_value=50, allow_nan=False)
models = st.builds(
    lambda n, cl, v1, q2, v2, q3, v3, ke0, ka: {
        "compartments": n,
        "cl_l_per_h": cl,
        "v1_l": v1,
        "q2_l_per_h": q2,
        "v2_l": v2,
        "q3_l_per_h": q3,
        "v3_l": v3,
        "ke0_per_h": ke0,
        "ka_per_h": ka,
    },
    st.integers(1, 3),
    positive,
    positive,
    positive,
    positive,
    positive,
    positive,
    positive,
    positive,
)
doses = st.lists(
    st.one_of(
        st.builds(
            lambda t, a: {"route": "iv_bolus", "time_h": t, "amount_mg": a},
            st.floats(0, 10),
            positive,
        ),
        st.builds(
            lambda t, r, d: {
                "route": "iv_infusion",
                "time_h": t,
                "rate_mg_per_h": r,
                "duration_h": d,
            },
            st.floats(0, 10),
            positive,
            st.floats(0.1, 8),
        ),
        st.builds(
            lambda t, a, f, lag: {
                "route": "oral",
                "time_h": t,
                "amount_mg": a,
                "bioavailability": f,
                "lag_h": lag,
            },
            st.floats(0, 10),
            positive,
            st.floats(0.05, 1),
            st.floats(0, 1),
        ),
    ),
    min_size=1,
    max_size=4,
)
GRID = {"start": 0, "stop": 24, "step": 0.1}


def run(model: dict[str, Any], ds: list[dict[str, Any]]) -> np.ndarray:
    r = simulate({"model": model, "doses": ds, "times_h": GRID})
    assert r.effect_site_mg_per_l is not None
    return np.stack([r.plasma_mg_per_l, r.effect_site_mg_per_l])


def scaled(d: dict[str, Any], k: float) -> dict[str, Any]:
    out = dict(d)
    for key in ("amount_mg", "rate_mg_per_h"):
        if key in out:
            out[key] = out[key] * k
    return out


@settings(max_examples=60)
@given(models, doses, st.floats(0.1, 10))
def test_dose_proportionality(model: dict[str, Any], ds: list[dict[str, Any]], k: float) -> None:
    base = run(model, ds)
    assert_allclose(
        run(model, [scaled(d, k) for d in ds]),
        k * base,
        rtol=1e-9,
        atol=1e-12 * max(1.0, float(np.max(base))) * k,
    )


@settings(max_examples=60)
@given(models, doses, doses)
def test_superposition(
    model: dict[str, Any], a: list[dict[str, Any]], b: list[dict[str, Any]]
) -> None:
    both = run(model, a + b)
    parts = run(model, a) + run(model, b)
    assert_allclose(both, parts, rtol=1e-9, atol=1e-12 * max(1.0, float(np.max(parts))))
    assert np.all(both >= 0)


@settings(max_examples=40)
@given(models, doses)
def test_time_invariance(model: dict[str, Any], ds: list[dict[str, Any]]) -> None:
    shift = 3.0  # 30 grid steps
    base = run(model, ds)
    moved = run(model, [d | {"time_h": d["time_h"] + shift} for d in ds])
    assert_allclose(
        moved[:, 30:], base[:, :-30], rtol=1e-8, atol=1e-10 * max(1.0, float(np.max(base)))
    )
