"""Population simulation: :func:`simulate_population` and :class:`PopulationResult`.

Virtual patients differ by body weight (log-normal around the regimen's patient) and by
log-normal inter-individual variability (IIV) on every clearance and volume, plus ka.
Each published model states its CVs and their source (``ModelSpec.iiv_cv`` /
``iiv_source``); where no published value was found the CV is an **assumption**:

- clearances and volumes without a published CV: 30% (assumption);
- ketamine CL: 13% (Fanta 2015, S-ketamine, Eur J Clin Pharmacol 71:441 [S]);
- absorption rate constant ka: 50% (assumption); ke0, F, lag: no IIV (assumption);
- body weight: CV 15% around the regimen's weight (assumption); age and sex fixed.

``CV`` is converted to the log-normal ``ω² = ln(1 + CV²)``; ``η ~ N(0, ω²)`` and
``P_i = P_typical(W_i)·exp(η_i)`` (the median patient equals the typical patient).

The whole population is solved at once (closed-form sums of exponentials, vectorised
over patients; see :mod:`painclinic.pharmacology.solver`). The percentile bands and
threshold statistics (:func:`pruned_summaries`) use where the solver certifies each
patient's curve monotone to look only at the patients that can hold a needed rank; they
equal ``numpy.percentile`` bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from painclinic.pharmacology.enums import OutputKind
from painclinic.pharmacology.errors import PharmacologyInputError
from painclinic.pharmacology.models import ModelSpec
from painclinic.pharmacology.regimen import Regimen, expand_inputs, parse_regimen
from painclinic.pharmacology.simulation import regimen_warnings
from painclinic.pharmacology.solver import BatchParameters, MonotonePieces, solve_certified
from painclinic.pharmacology.thresholds import DEFAULT_THRESHOLD_MG_PER_L

FloatArray = NDArray[np.float64]

#: Assumed CV of parameters without a published or model-specific value.
DEFAULT_CV = 0.3
#: Assumed CV of the absorption rate constant.
KA_CV = 0.5
#: Assumed CV of body weight around the regimen's patient.
WEIGHT_CV = 0.15
MAX_PATIENTS = 1_000_000
PERCENTILES = (5.0, 50.0, 95.0)


@dataclass(frozen=True, eq=False)
class PopulationResult:
    """Concentrations of N virtual patients and their summaries.

    Attributes
    ----------
    times_h : ndarray, shape (T,)
    concentrations_mg_per_l : ndarray, shape (N, T)
        Plasma (or effect-site) concentration of every virtual patient (mg/L).
    percentiles_mg_per_l : dict of float → ndarray, shape (T,)
        5th, 50th and 95th percentile over patients at each time (empty if not computed).
    threshold_mg_per_l : float or None
    probability_exceeding : float or None
        Fraction of patients whose concentration exceeds the threshold at any output time.
    time_above_threshold_h : ndarray, shape (N,) or None
        Time each patient spends above the threshold (h), counting each output interval
        whose left end is above it (resolution = the output step).
    weights_kg : ndarray or None
        Sampled body weights.
    warnings : tuple of str
    output : OutputKind
        ``OutputKind.PLASMA`` or ``OutputKind.EFFECT``.
    seed : int
    """

    times_h: FloatArray
    concentrations_mg_per_l: FloatArray
    percentiles_mg_per_l: Mapping[float, FloatArray]
    threshold_mg_per_l: float | None
    probability_exceeding: float | None
    time_above_threshold_h: FloatArray | None
    weights_kg: FloatArray | None
    warnings: tuple[str, ...]
    output: OutputKind
    seed: int
    drug: str | None = None
    dose_times_h: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        """Number of virtual patients."""
        return int(self.concentrations_mg_per_l.shape[0])

    def to_dict(self, *, include_individuals: bool = False) -> dict[str, Any]:
        """JSON-ready summary (individual curves only on request)."""

        def arr(a: FloatArray) -> list[float]:
            return [float(x) for x in a]

        d: dict[str, Any] = {
            "drug": self.drug,
            "n": self.n,
            "seed": self.seed,
            "output": self.output,
            "times_h": arr(self.times_h),
            "percentiles_mg_per_l": {
                f"p{int(p)}": arr(v) for p, v in self.percentiles_mg_per_l.items()
            },
            "threshold_mg_per_l": self.threshold_mg_per_l,
            "probability_exceeding": self.probability_exceeding,
            "time_above_threshold_h": None
            if self.time_above_threshold_h is None
            else {
                "mean": float(np.mean(self.time_above_threshold_h)),
                "p50": float(np.percentile(self.time_above_threshold_h, 50)),
                "p95": float(np.percentile(self.time_above_threshold_h, 95)),
            },
            "warnings": list(self.warnings),
        }
        if include_individuals:
            d["concentrations_mg_per_l"] = [arr(row) for row in self.concentrations_mg_per_l]
        return d


def _lerp(a: FloatArray, b: FloatArray, t: FloatArray) -> FloatArray:
    """``numpy.percentile``'s own linear interpolation (bit for bit), ``t`` shape (P, 1)."""
    diff = b - a
    out = a + diff * t
    np.subtract(b, diff * (1.0 - t), out=out, where=np.broadcast_to(t >= 0.5, out.shape))
    return out


def _select_nested(
    block: FloatArray, start: int, stop: int, ranks: list[int], found: dict[int, FloatArray]
) -> None:
    """Put the order statistics ``ranks`` (sorted, in ``[start, stop)``) of every row of
    ``block`` in place: partition the middle rank over the whole range, then recurse on the
    halves, so each level of the recursion touches every element once (about 2n work for
    three percentiles instead of n per rank). ``found[k]`` gets the row values at rank k and,
    through the minimum of the part above it, at rank k + 1."""
    if not ranks:
        return
    half = len(ranks) // 2
    mid = ranks[half]
    block[:, start:stop].partition(mid - start, axis=1)
    found[mid] = block[:, mid].copy()
    if mid + 1 < stop:
        found[mid + 1] = block[:, mid + 1 : stop].min(axis=1)
    _select_nested(block, start, mid, ranks[:half], found)
    _select_nested(block, mid + 1, stop, ranks[half + 1 :], found)


def _bands_setup(
    n: int, percentiles: tuple[float, ...]
) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]:
    """Ranks below and above each percentile and numpy's interpolation weight ``(P, 1)``."""
    q = np.asarray(percentiles, dtype=np.float64) / 100.0
    virtual = (n - 1) * q
    lo = np.floor(virtual)
    gamma = (virtual - lo)[:, None]
    lo_i = lo.astype(np.intp)
    hi_i = np.minimum(lo_i + 1, n - 1)
    at_top = virtual >= n - 1  # numpy takes the maximum there
    lo_i[at_top] = n - 1
    hi_i[at_top] = n - 1
    return lo_i, hi_i, gamma


def percentile_bands(
    conc: FloatArray,
    percentiles: tuple[float, ...] = PERCENTILES,
    chunk: int = 16,
    *,
    pieces: MonotonePieces | None = None,
    window: int = 0,
) -> FloatArray:
    """Percentiles over patients (axis 0) at each time, exactly as ``numpy.percentile``.

    Parameters
    ----------
    conc : ndarray, shape (N, T)
        Concentrations (mg/L), finite.
    percentiles : tuple of float
        Percentiles in [0, 100].
    chunk : int
        Number of time columns handled at once by the full selection (a contiguous,
        cache-sized copy).
    pieces : MonotonePieces, optional
        Where each patient's curve is certified monotone (:func:`solve_certified`); with it
        only the patients that can hold a needed rank are looked at (:func:`pruned_summaries`).
    window : int
        Output times per window of the pruned selection (0: :data:`WINDOW`).

    Returns
    -------
    ndarray, shape (len(percentiles), T)
        The same values, bit for bit, as ``np.percentile(conc, percentiles, axis=0)``
        (method "linear": virtual index ``q/100·(N−1)``, numpy's own two-sided linear
        interpolation between the order statistics at ``floor`` and ``floor + 1``).
        Without ``pieces`` no column is sorted: for each chunk of columns only the needed
        order statistics are selected, the middle one first over the whole column and the
        others on the halves it leaves (:func:`_select_nested`); the statistic just above a
        selected one is the minimum of the part above it.
    """
    n, n_t = conc.shape
    lo_i, hi_i, gamma = _bands_setup(n, percentiles)
    if pieces is not None and n >= PRUNE_MIN_PATIENTS:
        bands, _ = pruned_summaries(conc, pieces, percentiles, window=window)
        return bands
    ranks = sorted(set(lo_i.tolist()))
    out = np.empty((gamma.shape[0], n_t))
    buf = np.empty((min(chunk, n_t), n))
    for j in range(0, n_t, chunk):
        width = min(chunk, n_t - j)
        block = buf[:width]
        np.copyto(block, conc[:, j : j + width].T)
        found: dict[int, FloatArray] = {}
        _select_nested(block, 0, n, ranks, found)
        a = np.stack([found[k] for k in lo_i.tolist()])
        b = np.stack([found[k] for k in hi_i.tolist()])
        out[:, j : j + width] = _lerp(a, b, gamma)
    return out


#: Output times per window of :func:`pruned_summaries` (after the 1, 2, 4... ramp at each
#: event). Measured at 10,000 × 1,441 (IV plasma): 16–32 equally fast (≈ 43 ms), 8 slower
#: (52 ms: more windows, each with work over all patients), 40 slower (49 ms: more
#: candidates per window).
WINDOW = 24
#: Below this many patients the full selection is used (pruning does not pay).
PRUNE_MIN_PATIENTS = 64


def pruned_summaries(
    conc: FloatArray,
    pieces: MonotonePieces,
    percentiles: tuple[float, ...] = PERCENTILES,
    *,
    times: FloatArray | None = None,
    threshold_mg_per_l: float | None = None,
    window: int = 0,
) -> tuple[FloatArray, tuple[float, FloatArray] | None]:
    """Percentile bands (and threshold statistics) looking only at the patients that matter.

    Parameters
    ----------
    conc : ndarray, shape (N, T)
        Concentrations (mg/L), finite, as computed by :func:`solve_certified`.
    pieces : MonotonePieces
        Where each patient's curve is certified monotone, and the rounding slack.
    percentiles : tuple of float
        Percentiles in [0, 100].
    times : ndarray, shape (T,), optional
        Output times (h), needed for the threshold statistics.
    threshold_mg_per_l : float, optional
        Threshold (mg/L); with ``times``, also returns :func:`threshold_statistics`.
    window : int
        Output times per window (0: :data:`WINDOW`).

    Returns
    -------
    bands : ndarray, shape (len(percentiles), T)
        Equal, bit for bit, to ``np.percentile(conc, percentiles, axis=0)``.
    threshold : (float, ndarray) or None
        As :func:`threshold_statistics`: the probability exactly, the times above it
        exactly on a uniform grid and to rounding otherwise (None without a threshold).

    Notes
    -----
    The time axis is cut into windows inside the certified pieces. In a window
    ``[a, b]`` a certified patient's values all lie in ``[lo − s, hi + s]`` with ``lo, hi``
    the smaller and larger of its two end values and ``s`` twice the rounding slack (an
    uncertified patient: ``(−∞, ∞)``). With ``A`` the k-th smallest of the ``lo − s`` and
    ``B`` the (k+1)-th smallest of the ``hi + s``, the k-th and (k+1)-th order statistics
    at every time of the window lie in ``[A, B]``; a patient with ``hi + s < A`` is below
    them throughout (counted, ``n_below``), one with ``lo − s > B`` above them
    throughout (dropped). Removing values strictly below shifts the ranks by
    ``n_below``, removing values strictly above changes nothing, so the statistics are
    the ``(k − n_below)``-th and next smallest of the remaining candidates — usually a few
    hundred of 10,000 patients. The threshold statistics count whole windows for patients
    surely above or surely not above, and look at the others' values.
    """
    n, n_t = conc.shape
    lo_i, hi_i, gamma = _bands_setup(n, percentiles)
    size = window or WINDOW
    # Windows [t0, t1) inside each piece; a window is bounded by its patients' values at
    # its two edges: t0 and t1 (the next window's first time, so one edge column serves
    # two windows) or, for the piece's last window, the piece's last time. Edge columns
    # are listed piece by piece, so a window's edges are consecutive rows.
    w_start: list[int] = []
    w_stop: list[int] = []
    w_piece: list[int] = []
    w_row: list[int] = []
    edges: list[int] = []
    for p, (start, stop) in enumerate(pieces.bounds):
        # the curves change fastest just after an event: windows of 1, 2, 4, ... points
        t0, width = start, 1
        while t0 < stop:
            w_start.append(t0)
            w_stop.append(min(t0 + width, stop))
            w_piece.append(p)
            w_row.append(len(edges))
            edges.append(t0)
            t0, width = w_stop[-1], min(2 * width, size)
        edges.append(stop - 1)  # may repeat a one-point last window's time
    nw = len(w_start)
    starts = np.asarray(w_start, dtype=np.intp)
    stops = np.asarray(w_stop, dtype=np.intp)
    piece = np.asarray(w_piece, dtype=np.intp)
    first_row = np.asarray(w_row, dtype=np.intp)
    edge_t = np.asarray(edges, dtype=np.intp)
    cols = np.ascontiguousarray(conc[:, edge_t].T)
    # bounds for every pair of consecutive edges (those spanning two pieces are not used)
    lo = np.minimum(cols[:-1], cols[1:])
    hi = np.maximum(cols[:-1], cols[1:])
    certified = np.ones(lo.shape, dtype=bool)
    certified[first_row] = pieces.certified[piece]
    if not certified.all():
        np.putmask(lo, ~certified, -np.inf)
        np.putmask(hi, ~certified, np.inf)
    # every patient moving the same way: the bounds' order statistics are the exact
    # order statistics of the edge columns (one nested selection per column)
    pairs = lo.shape[0]
    down = np.ones(pairs, dtype=bool)  # unused pair rows: any value will do
    up = np.zeros(pairs, dtype=bool)
    down[first_row] = pieces.nonincreasing.all(axis=1)[piece]
    up[first_row] = pieces.nondecreasing.all(axis=1)[piece] & ~down[first_row]
    other = ~(down | up)
    at_edge: dict[int, FloatArray] = {}
    _select_nested(cols.copy(), 0, n, sorted(set(lo_i.tolist())), at_edge)
    row = np.arange(pairs)
    lo_row = np.where(down, row + 1, row)
    hi_row = np.where(down, row, row + 1)
    lo_at = {k: at_edge[k][lo_row] for k in set(lo_i.tolist())}
    hi_at = {k: at_edge[k][hi_row] for k in set(hi_i.tolist())}
    if other.any():
        for k in lo_at:
            lo_at[k][other] = np.partition(lo[other], k, axis=1)[:, k]
        for k in hi_at:
            hi_at[k][other] = np.partition(hi[other], k, axis=1)[:, k]
    s2 = 4.0 * pieces.slack_mg_per_l  # hi + s < lo_k − s, with s = 2 × slack
    values: dict[int, FloatArray] = {}
    by_time = conc.T
    for k, k1 in sorted(set(zip(lo_i.tolist(), hi_i.tolist(), strict=True))):
        below = hi < (lo_at[k] - s2)[:, None]
        n_below = np.count_nonzero(below, axis=1)
        candidate = np.less_equal(lo, (hi_at[k1] + s2)[:, None])
        candidate &= ~below
        v_k = values.setdefault(k, np.empty(n_t))
        v_k1 = values.setdefault(k1, np.empty(n_t))
        for w in range(nw):
            t0, t1, pr = int(starts[w]), int(stops[w]), int(first_row[w])
            idx = np.flatnonzero(candidate[pr])
            block = by_time[t0:t1][:, idx]  # (times, candidates), a new C-ordered array
            r = k - int(n_below[pr])
            block.partition(r, axis=1)
            v_k[t0:t1] = block[:, r]
            if k1 != k:
                v_k1[t0:t1] = block[:, r + 1 :].min(axis=1)
    a = np.stack([values[k] for k in lo_i.tolist()])
    b = np.stack([values[k] for k in hi_i.tolist()])
    bands = _lerp(a, b, gamma)
    if threshold_mg_per_l is None or times is None:
        return bands, None
    s = 2.0 * pieces.slack_mg_per_l
    thr = threshold_mg_per_l
    surely_above = lo > thr + s
    maybe_above = hi > thr - s
    maybe_above &= ~surely_above
    widths = np.diff(times, append=times[-1])  # the last point starts no interval
    uniform = times.size > 1 and bool(np.all(widths[:-1] == widths[0]))
    counts = np.zeros(n, dtype=np.int64)
    time_above = None if uniform else np.zeros(n)
    for w in range(nw):
        t0, t1, pr = int(starts[w]), int(stops[w]), int(first_row[w])
        counts += (t1 - t0) * surely_above[pr]
        if time_above is not None:
            time_above += float(widths[t0:t1].sum()) * surely_above[pr]
        idx = np.flatnonzero(maybe_above[pr])
        if idx.size:
            mask = conc[idx, t0:t1] > thr
            counts[idx] += np.count_nonzero(mask, axis=1)
            if time_above is not None:
                time_above[idx] += mask @ widths[t0:t1]
    prob = float(np.count_nonzero(counts)) / n
    if time_above is None:
        time_above = widths[0] * (counts - (conc[:, -1] > thr)).astype(np.float64)
    return bands, (prob, time_above)


def threshold_statistics(
    conc: FloatArray, times: FloatArray, threshold_mg_per_l: float
) -> tuple[float, FloatArray]:
    """Probability of exceeding a threshold and each patient's time above it.

    Parameters
    ----------
    conc : ndarray, shape (N, T)
        Concentrations (mg/L).
    times : ndarray, shape (T,)
        Output times (h).
    threshold_mg_per_l : float
        Threshold (mg/L); "above" is strictly greater.

    Returns
    -------
    probability : float
        Fraction of patients above the threshold at one output time at least.
    time_above_h : ndarray, shape (N,)
        Sum of the output intervals whose left end is above the threshold (h); on a uniform
        grid ``step × count`` (the last point starts no interval).
    """
    mask = conc > threshold_mg_per_l
    n = conc.shape[0]
    widths = np.diff(times, append=times[-1])
    if times.size > 1 and np.all(widths[:-1] == widths[0]):
        counts = mask.sum(axis=1, dtype=np.int64)
        prob = float(np.count_nonzero(counts)) / n
        above = widths[0] * (counts - mask[:, -1]).astype(np.float64)
    else:
        prob = float(np.count_nonzero(mask.any(axis=1))) / n
        above = np.asarray(mask @ widths, dtype=np.float64)
    return prob, above


def _omega(cv: float) -> float:
    return math.sqrt(math.log1p(cv * cv))


def sample_parameters(
    reg: Regimen, n: int, rng: np.random.Generator
) -> tuple[BatchParameters, FloatArray | None]:
    """Draw N patients' parameters (see the module docstring for the distributions).

    Parameters
    ----------
    reg : Regimen
        The regimen; its patient is the typical patient and its model gives the typical
        parameters.
    n : int
        Number of virtual patients.
    rng : numpy.random.Generator
        Source of the random draws (seeded by the caller for reproducibility).

    Returns
    -------
    BatchParameters
        Per-patient clearances (L/h), volumes (L), ke0 (1/h) and ka factor.
    weights : ndarray or None
        Sampled weights (kg), None when the regimen has no weight.
    """
    typical = reg.model_parameters()
    w_ref = reg.patient.weight_kg
    weights: FloatArray | None = None
    if w_ref is not None:
        weights = w_ref * np.exp(rng.normal(0.0, _omega(WEIGHT_CV), n))
    if isinstance(reg.model, ModelSpec):
        cvs = dict(reg.model.iiv_cv)
        exps = dict(reg.model.weight_exponents)
    else:
        cvs = {}
        exps = {}
    names = ("cl", "v1", "q2", "v2", "q3", "v3")
    base = {
        "cl": typical.cl_l_per_h,
        "v1": typical.v1_l,
        "q2": typical.q2_l_per_h,
        "v2": typical.v2_l,
        "q3": typical.q3_l_per_h,
        "v3": typical.v3_l,
    }
    values: dict[str, FloatArray] = {}
    for name in names:
        eta = rng.normal(0.0, _omega(cvs.get(name, DEFAULT_CV)), n)
        scale = np.exp(eta)
        if weights is not None and w_ref is not None and exps.get(name, 0.0) != 0.0:
            scale = scale * (weights / w_ref) ** exps[name]
        values[name] = base[name] * scale
    ka_factor = np.exp(rng.normal(0.0, _omega(KA_CV), n))
    bp = BatchParameters(
        compartments=typical.compartments,
        cl_l_per_h=values["cl"],
        v1_l=values["v1"],
        q2_l_per_h=values["q2"],
        v2_l=values["v2"],
        q3_l_per_h=values["q3"],
        v3_l=values["v3"],
        ke0_per_h=None if typical.ke0_per_h is None else np.full(n, typical.ke0_per_h),
        ka_factor=ka_factor,
        weight_kg=weights,
    )
    return bp, weights


#: Outputs a population can summarise (norketamine is not sampled per patient).
POPULATION_OUTPUTS = (OutputKind.PLASMA, OutputKind.EFFECT)


def simulate_population(
    regimen: Regimen | Mapping[str, Any] | str,
    n: int = 1000,
    seed: int = 0,
    *,
    threshold_mg_per_l: float | None = None,
    output: OutputKind | str = OutputKind.PLASMA,
    summaries: bool = True,
) -> PopulationResult:
    """Simulate N virtual patients with inter-individual variability.

    Parameters
    ----------
    regimen : Regimen, dict or JSON str
        The regimen; its patient is the population's typical patient.
    n : int
        Number of virtual patients (≥ 1).
    seed : int
        Seed of ``numpy.random.default_rng`` (results are reproducible).
    threshold_mg_per_l : float, optional
        Concentration threshold (mg/L). Default: lidocaine 5 mg/L (toxicity, Bauer [S]),
        ketamine 0.1 mg/L (start of the dissociative range, Zanos 2018 [S]); none for a
        custom model without a drug.
    output : OutputKind or str
        Which concentration to summarise: ``OutputKind.PLASMA`` (``"plasma"``) or
        ``OutputKind.EFFECT`` (``"effect"``).
    summaries : bool
        Compute percentile bands and threshold statistics (from 64 patients on, by
        :func:`pruned_summaries`; at N = 10,000 they still cost about twice the simulation).

    Returns
    -------
    PopulationResult

    Raises
    ------
    PharmacologyInputError
        Invalid regimen, ``n`` or ``output`` (``.field`` names it).
    """
    reg = parse_regimen(regimen)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PATIENTS:
        raise PharmacologyInputError("n", f"must be an integer from 1 to {MAX_PATIENTS}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PharmacologyInputError("seed", "must be a non-negative integer")
    if output not in POPULATION_OUTPUTS:
        raise PharmacologyInputError("output", "must be 'plasma' or 'effect'")
    kind = OutputKind(output)
    rng = np.random.default_rng(seed)
    bp, weights = sample_parameters(reg, n, rng)
    if kind is OutputKind.EFFECT and bp.ke0_per_h is None:
        raise PharmacologyInputError("output", "the model has no effect site (ke0)")
    inputs, route_warnings = expand_inputs(reg)
    times = np.asarray(reg.times_h, dtype=float)
    conc, pieces = solve_certified(bp, inputs, times, kind)
    warnings = regimen_warnings(reg, inputs) + route_warnings
    warnings = [w for w in warnings if not w.startswith("norketamine")]
    if isinstance(reg.model, ModelSpec) and weights is not None:
        lo, hi = reg.model.weight_range_kg
        outside = np.zeros(n, dtype=bool)
        if lo is not None:
            outside |= weights < lo
        if hi is not None:
            outside |= weights > hi
        if outside.any():
            warnings.append(
                f"{int(outside.sum())} of {n} sampled weights are outside the validity range "
                f"of model '{reg.model.name}'"
            )
    thr = threshold_mg_per_l
    if thr is None and reg.drug is not None:
        thr = DEFAULT_THRESHOLD_MG_PER_L[reg.drug]
    if thr is not None and (not math.isfinite(thr) or thr <= 0):
        raise PharmacologyInputError("threshold_mg_per_l", "must be positive")
    pct: dict[float, FloatArray] = {}
    prob: float | None = None
    above: FloatArray | None = None
    if summaries:
        threshold: tuple[float, FloatArray] | None = None
        if n >= PRUNE_MIN_PATIENTS:
            bands, threshold = pruned_summaries(
                conc, pieces, PERCENTILES, times=times, threshold_mg_per_l=thr
            )
        else:
            bands = percentile_bands(conc)
        pct = {p: bands[i] for i, p in enumerate(PERCENTILES)}
        if thr is not None:
            prob, above = (
                threshold if threshold is not None else threshold_statistics(conc, times, thr)
            )
    return PopulationResult(
        times_h=times,
        concentrations_mg_per_l=conc,
        percentiles_mg_per_l=pct,
        threshold_mg_per_l=thr,
        probability_exceeding=prob,
        time_above_threshold_h=above,
        weights_kg=weights,
        warnings=tuple(warnings),
        output=kind,
        seed=seed,
        drug=reg.drug,
        dose_times_h=tuple(sorted({i.start_h for i in inputs})),
    )
