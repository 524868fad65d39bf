"""Population simulation: vectorised path equals the single-patient path; summaries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from painclinic.pharmacology import PharmacologyInputError, simulate, simulate_population
from painclinic.pharmacology.models import MODELS
from painclinic.pharmacology.patient import Patient
from painclinic.pharmacology.population import PERCENTILES, sample_parameters
from painclinic.pharmacology.regimen import parse_regimen

REGIMEN: dict[str, Any] = {
    "drug": "ketamine",
    "model": "domino",
    "patient": {"weight_kg": 70, "age_years": 45},
    "doses": [
        {"route": "iv_bolus", "time_h": 0, "amount_mg": 10},
        {"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 24.5, "duration_h": 4},
        {"route": "oral", "time_h": 6, "amount_mg": 50, "every_h": 8, "additional_doses": 1},
    ],
    "times_h": {"start": 0, "stop": 24, "step": 1 / 60},
}


def test_each_virtual_patient_equals_a_single_simulation_with_its_parameters() -> None:
    pop = simulate_population(REGIMEN, n=6, seed=3, summaries=False)
    reg = parse_regimen(REGIMEN)
    bp, _ = sample_parameters(reg, 6, np.random.default_rng(3))
    for i in range(6):
        custom = {
            "compartments": 3,
            "cl_l_per_h": bp.cl_l_per_h[i],
            "v1_l": bp.v1_l[i],
            "q2_l_per_h": bp.q2_l_per_h[i],
            "v2_l": bp.v2_l[i],
            "q3_l_per_h": bp.q3_l_per_h[i],
            "v3_l": bp.v3_l[i],
        }
        doses = [dict(d) for d in REGIMEN["doses"]]
        doses[2] |= {"bioavailability": 0.2, "ka_per_h": 1.0 * bp.ka_factor[i], "lag_h": 0.25}
        single = simulate({"model": custom, "doses": doses, "times_h": REGIMEN["times_h"]})
        assert_allclose(
            pop.concentrations_mg_per_l[i], single.plasma_mg_per_l, rtol=1e-9, atol=1e-15
        )


def test_same_seed_same_population_and_different_seed_differs() -> None:
    a = simulate_population(REGIMEN, n=50, seed=7, summaries=False)
    b = simulate_population(REGIMEN, n=50, seed=7, summaries=False)
    c = simulate_population(REGIMEN, n=50, seed=8, summaries=False)
    assert np.array_equal(a.concentrations_mg_per_l, b.concentrations_mg_per_l)
    assert not np.array_equal(a.concentrations_mg_per_l, c.concentrations_mg_per_l)


def test_summaries_are_consistent_with_the_individual_curves() -> None:
    pop = simulate_population(REGIMEN, n=400, seed=1, threshold_mg_per_l=0.15)
    conc = pop.concentrations_mg_per_l
    p5, p50, p95 = (pop.percentiles_mg_per_l[p] for p in (5.0, 50.0, 95.0))
    assert np.all(p5 <= p50) and np.all(p50 <= p95)
    assert_allclose(p50, np.median(conc, axis=0), rtol=1e-12)
    assert pop.probability_exceeding == pytest.approx(np.mean((conc > 0.15).any(axis=1)))
    assert pop.time_above_threshold_h is not None
    step = 1 / 60
    assert_allclose(
        pop.time_above_threshold_h, (conc[:, :-1] > 0.15).sum(axis=1) * step, rtol=1e-9, atol=1e-9
    )
    d = pop.to_dict()
    assert set(d["percentiles_mg_per_l"]) == {"p5", "p50", "p95"}
    assert 0 <= d["probability_exceeding"] <= 1


def test_default_thresholds_are_lidocaine_5_and_ketamine_01_mg_per_l() -> None:
    assert simulate_population(REGIMEN, n=10, seed=0).threshold_mg_per_l == 0.1
    lido = {
        "drug": "lidocaine",
        "patient": {"weight_kg": 70},
        "doses": [{"route": "iv_infusion", "time_h": 0, "amount_mg": 350, "duration_h": 2 / 3}],
        "times_h": {"start": 0, "stop": 4, "step": 0.05},
    }
    assert simulate_population(lido, n=10, seed=0).threshold_mg_per_l == 5.0


def test_vectorised_grid_matches_non_uniform_grid() -> None:
    uniform = simulate(REGIMEN)
    times = [*uniform.times_h.tolist(), 24.01]
    irregular = simulate(REGIMEN | {"times_h": times})
    assert_allclose(irregular.plasma_mg_per_l[:-1], uniform.plasma_mg_per_l, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_weight_exponents_reproduce_the_covariate_equations(name: str) -> None:
    spec = MODELS[name]
    ref = spec.parameters(Patient(weight_kg=70))
    for w in (45.0, 90.0, 140.0):
        p = spec.parameters(Patient(weight_kg=w))
        for key, attr in (
            ("cl", "cl_l_per_h"),
            ("v1", "v1_l"),
            ("q2", "q2_l_per_h"),
            ("v2", "v2_l"),
            ("q3", "q3_l_per_h"),
            ("v3", "v3_l"),
        ):
            expected = getattr(ref, attr) * (w / 70) ** spec.weight_exponents.get(key, 0.0)
            assert_allclose(getattr(p, attr), expected, rtol=1e-12, err_msg=f"{name}.{key}")


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"n": 0}, "n"), ({"seed": -1}, "seed"), ({"output": "brain"}, "output")]
)
def test_bad_population_arguments(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"n": 5, "seed": 0} | kwargs
    with pytest.raises(PharmacologyInputError) as info:
        simulate_population(REGIMEN, **args)
    assert info.value.field == field


def test_percentile_bands_equal_numpy_percentile() -> None:
    """Tolerance 0: the selected order statistics and numpy's own interpolation, bit for bit."""
    from painclinic.pharmacology.population import percentile_bands

    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 7, 20, 101, 1000):
        conc = rng.lognormal(size=(n, 150))
        for percentiles in ((0.0, 5.0, 50.0, 95.0, 100.0), (2.5, 97.5), (33.3,)):
            for chunk in (1, 16, 64):
                assert np.array_equal(
                    percentile_bands(conc, percentiles, chunk=chunk),
                    np.percentile(conc, percentiles, axis=0),
                ), (n, percentiles, chunk)
    ties = rng.integers(0, 3, size=(500, 30)).astype(float)  # many equal values
    assert np.array_equal(percentile_bands(ties), np.percentile(ties, [5, 50, 95], axis=0))


def test_population_bands_equal_numpy_percentile_exactly() -> None:
    pop = simulate_population(REGIMEN, n=2000, seed=3)
    expected = np.percentile(pop.concentrations_mg_per_l, [5, 50, 95], axis=0)
    got = np.stack([pop.percentiles_mg_per_l[p] for p in (5.0, 50.0, 95.0)])
    assert np.array_equal(got, expected)


def test_threshold_statistics_match_a_direct_count() -> None:
    from painclinic.pharmacology.population import threshold_statistics

    rng = np.random.default_rng(4)
    conc = rng.uniform(0, 2, size=(300, 40))
    uniform = np.linspace(0, 2, 40)
    uneven = np.cumsum(rng.uniform(0.01, 0.2, 40))
    for times in (uniform, uneven):
        prob, above = threshold_statistics(conc, times, 1.9)
        widths = np.diff(times, append=times[-1])
        direct = [sum(w for c, w in zip(row, widths, strict=True) if c > 1.9) for row in conc]
        assert prob == np.mean([any(row > 1.9) for row in conc])
        assert_allclose(above, direct, rtol=1e-12, atol=1e-12)
    # the boundary: a value equal to the threshold is not above it
    prob, above = threshold_statistics(np.array([[1.0, 1.0]]), np.array([0.0, 1.0]), 1.0)
    assert prob == 0 and above[0] == 0
    prob, above = threshold_statistics(np.array([[1.0, 0.5]]), np.array([0.0, 1.0]), 0.99)
    assert prob == 1 and above[0] == 1.0


# --- summaries that look only at the patients that can hold a rank (issue 11 item 8) -------

IV_INFUSION: dict[str, Any] = {
    "drug": "ketamine",
    "model": "domino",
    "patient": {"weight_kg": 70, "age_years": 45},
    "norketamine": False,
    "doses": [
        {"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 24.5, "duration_h": 4},
    ],
    "times_h": {"start": 0, "stop": 24, "step": 1 / 60},
}


def _certified_population(
    regimen: dict[str, Any], n: int, seed: int, output: str = "plasma"
) -> tuple[Any, Any, np.ndarray]:
    from painclinic.pharmacology.regimen import expand_inputs
    from painclinic.pharmacology.solver import solve_certified

    reg = parse_regimen(regimen)
    bp, _ = sample_parameters(reg, n, np.random.default_rng(seed))
    inputs, _ = expand_inputs(reg)
    times = np.asarray(reg.times_h, dtype=float)
    conc, pieces = solve_certified(bp, inputs, times, output)
    return conc, pieces, times


#: Boluses off the output grid and a coarse grid: pieces of one and two output times.
SHORT_PIECES: dict[str, Any] = {
    "drug": "ketamine",
    "model": "domino",
    "patient": {"weight_kg": 70, "age_years": 45},
    "norketamine": False,
    "doses": [
        {"route": "iv_bolus", "time_h": 0.3, "amount_mg": 10},
        {"route": "iv_bolus", "time_h": 0.55, "amount_mg": 5},
        {"route": "iv_infusion", "time_h": 1.0, "rate_mg_per_h": 20, "duration_h": 0.5},
    ],
    "times_h": {"start": 0, "stop": 4, "step": 0.25},
}


@pytest.mark.parametrize(
    ("regimen", "output"),
    [
        (IV_INFUSION, "plasma"),
        (REGIMEN, "plasma"),
        (IV_INFUSION, "effect"),
        (SHORT_PIECES, "plasma"),
    ],
)
def test_pruned_bands_equal_numpy_percentile_exactly(regimen: dict[str, Any], output: str) -> None:
    """Tolerance 0, whether the curves are certified monotone (IV plasma) or partly not
    (the oral doses' absorption, the effect site)."""
    from painclinic.pharmacology.population import pruned_summaries

    conc, pieces, _times = _certified_population(regimen, 700, 5, output)
    for percentiles in ((5.0, 50.0, 95.0), (0.0, 2.5, 97.5, 100.0), (33.3,)):
        for window in (1, 3, 16, 50):
            bands, _ = pruned_summaries(conc, pieces, percentiles, window=window)
            assert np.array_equal(bands, np.percentile(conc, percentiles, axis=0)), (
                percentiles,
                window,
            )


def test_pruned_bands_with_ties_equal_numpy_percentile() -> None:
    """Every patient three times over (and all zero at time 0): ties at every rank."""
    from painclinic.pharmacology.population import pruned_summaries
    from painclinic.pharmacology.solver import MonotonePieces

    conc, pieces, _times = _certified_population(IV_INFUSION, 101, 2)
    triple = np.repeat(conc, 3, axis=0)
    tripled = MonotonePieces(
        bounds=pieces.bounds,
        nonincreasing=np.repeat(pieces.nonincreasing, 3, axis=1),
        nondecreasing=np.repeat(pieces.nondecreasing, 3, axis=1),
        slack_mg_per_l=pieces.slack_mg_per_l,
    )
    bands, _ = pruned_summaries(triple, tripled)
    assert np.array_equal(bands, np.percentile(triple, [5, 50, 95], axis=0))
    from painclinic.pharmacology.population import percentile_bands

    assert np.array_equal(percentile_bands(triple, pieces=tripled, window=5), bands)


def test_pruned_threshold_statistics_equal_a_direct_count() -> None:
    from painclinic.pharmacology.population import pruned_summaries

    for regimen in (IV_INFUSION, REGIMEN):
        conc, pieces, times = _certified_population(regimen, 300, 7)
        for thr in (0.01, 0.1, 0.15, 10.0):
            _bands, stats = pruned_summaries(conc, pieces, times=times, threshold_mg_per_l=thr)
            assert stats is not None
            prob, above = stats
            mask = conc > thr
            widths = np.diff(times, append=times[-1])
            assert prob == np.count_nonzero(mask.any(axis=1)) / conc.shape[0]
            assert_allclose(above, mask.astype(float) @ widths, rtol=1e-12, atol=1e-12)


def test_monotone_certificate_holds_on_the_computed_values() -> None:
    """Where the solver certifies a patient monotone, its computed values move that way
    (to within the stated slack); IV plasma is certified everywhere, the oral absorption
    phase (coefficients of both signs) is not."""
    for regimen, everywhere in ((IV_INFUSION, True), (REGIMEN, False)):
        conc, pieces, _times = _certified_population(regimen, 200, 11)
        assert pieces.certified.all() == everywhere
        assert pieces.slack_mg_per_l < 1e-9 * conc.max()
        for p, (start, stop) in enumerate(pieces.bounds):
            step = np.diff(conc[:, start:stop], axis=1)
            down = pieces.nonincreasing[p]
            up = pieces.nondecreasing[p]
            assert np.all(step[down] <= 2 * pieces.slack_mg_per_l)
            assert np.all(step[up] >= -2 * pieces.slack_mg_per_l)


def test_population_summaries_use_the_pruned_path_and_match_the_full_selection() -> None:
    pop = simulate_population(IV_INFUSION, n=1500, seed=9)
    conc = pop.concentrations_mg_per_l
    from painclinic.pharmacology.population import percentile_bands, threshold_statistics

    full = percentile_bands(conc)
    assert np.array_equal(np.stack([pop.percentiles_mg_per_l[p] for p in PERCENTILES]), full)
    prob, above = threshold_statistics(conc, pop.times_h, 0.1)
    assert pop.probability_exceeding == prob
    assert pop.time_above_threshold_h is not None
    assert_allclose(pop.time_above_threshold_h, above, rtol=1e-12, atol=1e-12)
