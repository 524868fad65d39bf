"""Exact, vectorised solution of linear compartment models by sums of exponentials.

Method
------
For a mammillary model with micro-rate constants ``k10 = CL/V1``, ``k12 = Q2/V1``,
``k21 = Q2/V2`` (and ``k13``, ``k31``), the central concentration after a unit bolus into
the central compartment is (Gibaldi & Perrier, *Pharmacokinetics*, ch. 3)::

    h(t) = (1/V1) Σ_i  [Π_p (k_p1 − λ_i) / Π_{j≠i} (λ_j − λ_i)]  e^{−λ_i t}

where ``λ_i`` are the disposition rate constants (roots of the characteristic
polynomial, found in closed form: quadratic or trigonometric cubic, then polished by
Newton steps). Every other response is obtained by exact convolution with a first-order
process ``k e^{−k t}``, which maps ``Σ c_i e^{−r_i t}`` to
``Σ c_i k/(k − r_i) (e^{−r_i t} − e^{−k t})``: absorption from a depot (``ka``, scaled by
F), the effect site (``ke0``) and the norketamine compartment (``km``).

Doses are superposed: between consecutive events (bolus, start or end of zero-order
input, both shifted by the lag) the output is ``Σ_j Y_j e^{−r_j (t − t_s)} + Z`` with
modal weights ``Y`` propagated exactly from event to event and ``Z`` the steady-state
contribution of the active zero-order inputs. A value at an event time is taken after
the event (right-continuous; output times within 1e-12 of an event count as the event).
Everything is vectorised over patients (leading axis); on a uniform time grid all
segments are evaluated in one batched product of a coarse and a fine exponential table
(``e^{r(a·B + b)Δ} = e^{raBΔ}·e^{rbΔ}``, tables built by repeated doubling), so only
``O(N·m)`` exponentials are computed for ``N × T`` outputs.

Coincident rate constants
-------------------------
When a first-order rate that follows disposition (``ka``, ``ke0``, ``km``) equals a
disposition rate or another such rate, the partial fractions above divide by zero: the
exact solution then has confluent terms ``t e^{−k t}`` (and ``t²/2 e^{−k t}`` for three
equal rates). Nothing is perturbed. A patient whose cascade has two rates within a
relative :data:`CONFLUENT_RTOL` (1e-2) of each other is solved in the *cascade basis*
instead (:func:`chain_response`, :func:`superpose_chains`): each disposition mode ``λ_i``
followed by the extra rates is one chain, whose unit response is the convolution
``e^{−x_1 t} * ... * e^{−x_L t}`` (a divided difference of ``e^{−x t}`` over the chain's
rates), and whose state evolves by ``exp(τ J)``, ``J`` upper bidiagonal with ``−x_j`` on
the diagonal and ones above it (Opitz's formula; :func:`chain_propagator`). That small
matrix exponential (scaling and squaring of a Taylor polynomial: every entry is
non-negative, so the squarings lose nothing to cancellation) is continuous in the rates
and exact when they coincide: for ``ka = k`` it gives ``t e^{−k t}``. Rates further apart
than ``CONFLUENT_RTOL`` stay in the partial fractions, whose cancellation error is below
``ε/CONFLUENT_RTOL ≈ 2e-14`` of the peak per near pair (``ε/CONFLUENT_RTOL² ≈ 2e-12`` if
three rates crowd together). Every other patient takes the fast path unchanged.

Disposition rates themselves never coincide while the inter-compartmental clearances are
positive (they interlace strictly with ``k21`` and ``k31``, and a reversible compartmental
system has no confluent modes); :func:`disposition_rates` only separates floating-point
ties among them, by a relative ``2e-7``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from painclinic.pharmacology.enums import Entry, OutputKind
from painclinic.pharmacology.models import NorketamineParameters
from painclinic.pharmacology.regimen import Input

FloatArray = NDArray[np.float64]

#: Relative separation below which two disposition rates count as a floating-point tie.
COINCIDENCE_TOL = 1e-7
#: Relative separation below which a cascade's rates are solved in the confluent basis.
CONFLUENT_RTOL = 1e-2


@dataclass(frozen=True)
class BatchParameters:
    """Model parameters for N patients (each attribute has shape ``(N,)``).

    Attributes
    ----------
    compartments : int
    cl_l_per_h, v1_l, q2_l_per_h, v2_l, q3_l_per_h, v3_l : ndarray
        Clearances (L/h) and volumes (L); unused peripheral entries may be zeros.
    ke0_per_h : ndarray or None
        Effect-site rate constant (1/h).
    ka_factor : ndarray
        Multiplicative factor on every dose's ka (inter-individual variability).
    weight_kg : ndarray or None
        Body weight (kg), needed for the norketamine volume.
    """

    compartments: int
    cl_l_per_h: FloatArray
    v1_l: FloatArray
    q2_l_per_h: FloatArray
    v2_l: FloatArray
    q3_l_per_h: FloatArray
    v3_l: FloatArray
    ke0_per_h: FloatArray | None
    ka_factor: FloatArray
    weight_kg: FloatArray | None

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.cl_l_per_h.shape[0])

    def take(self, index: NDArray[np.intp]) -> BatchParameters:
        """The parameters of the patients at ``index`` (an integer array)."""

        def pick(a: FloatArray | None) -> FloatArray | None:
            return None if a is None else a[index]

        return BatchParameters(
            compartments=self.compartments,
            cl_l_per_h=self.cl_l_per_h[index],
            v1_l=self.v1_l[index],
            q2_l_per_h=self.q2_l_per_h[index],
            v2_l=self.v2_l[index],
            q3_l_per_h=self.q3_l_per_h[index],
            v3_l=self.v3_l[index],
            ke0_per_h=pick(self.ke0_per_h),
            ka_factor=self.ka_factor[index],
            weight_kg=pick(self.weight_kg),
        )


def _polish(lam: FloatArray, coeffs: Sequence[FloatArray], steps: int = 2) -> FloatArray:
    """Newton-polish roots of ``λ^n − a_{n−1} λ^{n−1} + ... `` given as (N,) coefficient arrays.

    ``coeffs`` are the polynomial coefficients, highest degree first (leading 1 implicit
    excluded), each broadcastable against ``lam`` of shape (N, n).
    """
    for _ in range(steps):
        p = np.ones_like(lam)
        dp = np.zeros_like(lam)
        for c in coeffs:
            dp = dp * lam + p
            p = p * lam + c[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.where(dp != 0, p / dp, 0.0)
        lam = lam - delta
    return lam


def disposition_rates(bp: BatchParameters) -> tuple[FloatArray, FloatArray]:
    """Disposition rate constants λ_i (1/h) and unit-bolus coefficients A_i (1/L).

    Parameters
    ----------
    bp : BatchParameters
        N patients' clearances (L/h) and volumes (L).

    Returns
    -------
    lam : ndarray, shape (N, n)
        Positive decay rates (1/h), ``n = compartments``.
    coef : ndarray, shape (N, n)
        Coefficients such that the central concentration (mg/L) after a 1 mg bolus
        into the central compartment is ``Σ_i coef_i e^{−lam_i t}``.
    """
    k10 = bp.cl_l_per_h / bp.v1_l
    n = bp.compartments
    if n == 1:
        return k10[:, None].copy(), (1.0 / bp.v1_l)[:, None].copy()
    k12 = bp.q2_l_per_h / bp.v1_l
    k21 = bp.q2_l_per_h / bp.v2_l
    if n == 2:
        s = k10 + k12 + k21
        disc = np.sqrt(np.maximum(s * s - 4.0 * k10 * k21, 0.0))
        big = 0.5 * (s + disc)
        small = k10 * k21 / big
        lam = np.stack([big, small], axis=1)
        lam = _polish(lam, [-s, k10 * k21], steps=1)
        k_back = [k21]
    else:
        k13 = bp.q3_l_per_h / bp.v1_l
        k31 = bp.q3_l_per_h / bp.v3_l
        # k21 == k31 needs no care: k21 is then a root, whose coefficient is zero
        a2 = k10 + k12 + k13 + k21 + k31
        a1 = k10 * k21 + k10 * k31 + k12 * k31 + k13 * k21 + k21 * k31
        a0 = k10 * k21 * k31
        # roots of λ³ − a2 λ² + a1 λ − a0 (all real and positive): trigonometric method
        p = a1 - a2 * a2 / 3.0
        q = -2.0 * a2**3 / 27.0 + a2 * a1 / 3.0 - a0
        m = 2.0 * np.sqrt(np.maximum(-p / 3.0, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            arg = np.where(m > 0, 3.0 * q / (p * m), 0.0)
        theta = np.arccos(np.clip(arg, -1.0, 1.0)) / 3.0
        ks = np.arange(3)[None, :]
        lam = a2[:, None] / 3.0 + m[:, None] * np.cos(theta[:, None] - 2.0 * np.pi * ks / 3.0)
        lam = _polish(lam, [-a2, a1, -a0], steps=2)
        k_back = [k21, k31]
    # separate (numerically) coincident roots
    lam = np.sort(lam, axis=1)[:, ::-1]
    for i in range(1, lam.shape[1]):
        too_close = lam[:, i - 1] - lam[:, i] <= COINCIDENCE_TOL * lam[:, i - 1]
        lam[:, i] = np.where(too_close, lam[:, i - 1] * (1 - 2 * COINCIDENCE_TOL), lam[:, i])
    num = np.ones_like(lam)
    for kb in k_back:
        num = num * (kb[:, None] - lam)
    den = np.ones_like(lam)
    for j in range(lam.shape[1]):
        diff = lam[:, j : j + 1] - lam
        diff[:, j] = 1.0
        den = den * diff
    coef = num / den / bp.v1_l[:, None]
    return np.ascontiguousarray(lam), np.ascontiguousarray(coef)


def cascade_rates(
    bp: BatchParameters,
    output: OutputKind,
    entry: Entry,
    *,
    ka_per_h: float = 0.0,
    norketamine: NorketamineParameters | None = None,
) -> list[FloatArray]:
    """The first-order rates (1/h) that follow disposition, in cascade order.

    Parameters
    ----------
    bp : BatchParameters
        N patients' parameters (``ka_factor``, ``ke0_per_h``, ``weight_kg`` are used).
    output : OutputKind
        Which concentration: plasma adds no rate, the effect site ``ke0``, the metabolite
        ``km``.
    entry : Entry
        A depot entry adds ``ka`` first.
    ka_per_h : float
        Absorption rate constant (1/h) of a depot entry, before ``bp.ka_factor``.
    norketamine : NorketamineParameters, optional
        Required for ``OutputKind.METABOLITE``.

    Returns
    -------
    list of ndarray, shape (N,)
        ``ka`` (depot entry), then ``ke0`` (effect) or ``km`` (metabolite).
    """
    extras: list[FloatArray] = []
    if entry is Entry.DEPOT:
        extras.append(ka_per_h * bp.ka_factor)
    if output is OutputKind.EFFECT:
        if bp.ke0_per_h is None:
            raise ValueError("model has no effect site (ke0)")
        extras.append(bp.ke0_per_h)
    elif output is OutputKind.METABOLITE:
        if norketamine is None or bp.weight_kg is None:
            raise ValueError("metabolite output needs norketamine parameters and weight")
        extras.append(np.full(bp.n, norketamine.ke_per_h))
    elif output is not OutputKind.PLASMA:
        raise ValueError(f"unknown output {output}")
    return extras


def confluent_patients(lam: FloatArray, extras: Sequence[FloatArray]) -> NDArray[np.bool_]:
    """Patients with an extra rate within a relative :data:`CONFLUENT_RTOL` of another rate.

    Parameters
    ----------
    lam : ndarray, shape (N, n)
        Disposition rates (1/h).
    extras : sequence of ndarray, shape (N,)
        Rates that follow disposition (1/h), see :func:`cascade_rates`.

    Returns
    -------
    ndarray of bool, shape (N,)
        True where the partial fractions would divide by a difference smaller than
        ``CONFLUENT_RTOL`` times the rates: those patients are solved by
        :func:`superpose_chains`.
    """
    flagged = np.zeros(lam.shape[0], dtype=bool)
    earlier = lam
    for e in extras:
        gap = np.abs(earlier - e[:, None]) <= CONFLUENT_RTOL * np.maximum(earlier, e[:, None])
        flagged |= gap.any(axis=1)
        earlier = np.concatenate([earlier, e[:, None]], axis=1)
    return flagged


def convolve_first_order(
    coef: FloatArray, rates: FloatArray, k: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Exact convolution of ``Σ c_i e^{−r_i t}`` with ``k e^{−k t}``.

    Parameters
    ----------
    coef, rates : ndarray, shape (N, m)
        Polyexponential coefficients and decay rates (1/h).
    k : ndarray, shape (N,)
        First-order rate constant (1/h); it must differ from every rate by more than a
        relative :data:`CONFLUENT_RTOL` (see :func:`confluent_patients`), or the
        coefficients lose about ``ε/gap`` to cancellation (and divide by zero at a tie).

    Returns
    -------
    coef, rates : ndarray, shape (N, m + 1)
        ``Σ c_i k/(k − r_i) e^{−r_i t} − (Σ c_i k/(k − r_i)) e^{−k t}``.
    """
    factor = coef * k[:, None] / (k[:, None] - rates)
    new_coef = np.concatenate([factor, -factor.sum(axis=1, keepdims=True)], axis=1)
    new_rates = np.concatenate([rates, k[:, None]], axis=1)
    return new_coef, new_rates


def unit_response(
    bp: BatchParameters,
    output: OutputKind,
    entry: Entry,
    *,
    bioavailability: float = 1.0,
    ka_per_h: float = 0.0,
    first_pass_fraction: float = 0.0,
    norketamine: NorketamineParameters | None = None,
    disposition: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Response of ``output`` to a 1 mg bolus into ``entry``, as a polyexponential.

    For patients whose rates are separated (see :func:`confluent_patients`); the others
    take :func:`chain_response`.

    Parameters
    ----------
    bp : BatchParameters
        N patients' parameters.
    output : OutputKind
        Plasma (mg/L parent), effect site (mg/L parent) or norketamine (mg/L).
    entry : Entry
        Central compartment, or an absorption depot emptying at ``ka_per_h·ka_factor``
        with fraction ``bioavailability`` reaching the central compartment and
        ``first_pass_fraction`` converted presystemically to norketamine.
    bioavailability : float
        Fraction of a depot's outflow reaching the central compartment (dimensionless).
    ka_per_h : float
        Absorption rate constant of a depot entry (1/h).
    first_pass_fraction : float
        Fraction of a depot's outflow converted to norketamine before reaching the central
        compartment (dimensionless).
    norketamine : NorketamineParameters, optional
        Required when ``output`` is ``OutputKind.METABOLITE``.
    disposition : tuple, optional
        Precomputed ``disposition_rates(bp)``.

    Returns
    -------
    coef, rates : ndarray, shape (N, m)
        Output (mg/L per mg) is ``Σ coef e^{−rates·t}``.
    """
    lam, a = disposition if disposition is not None else disposition_rates(bp)
    sep = cascade_rates(bp, output, entry, ka_per_h=ka_per_h, norketamine=norketamine)
    coef, rates = a, lam
    ka = None
    if entry is Entry.DEPOT:
        ka = sep.pop(0)
        coef, rates = convolve_first_order(coef, rates, ka)
        coef = coef * bioavailability
    if output is OutputKind.PLASMA:
        return coef, rates
    k_last = sep.pop(0)
    if output is OutputKind.EFFECT:
        return convolve_first_order(coef, rates, k_last)
    assert norketamine is not None and bp.weight_kg is not None
    km = k_last
    vm = norketamine.volume_l(1.0) * bp.weight_kg
    formation = norketamine.fraction_metabolised * norketamine.mass_ratio * bp.cl_l_per_h
    c_sys, r_sys = convolve_first_order(coef, rates, km)
    c_sys = c_sys * (formation / (vm * km))[:, None]
    if entry is Entry.DEPOT and first_pass_fraction > 0:
        assert ka is not None
        c_fp, r_fp = convolve_first_order(np.ones((bp.n, 1)), ka[:, None], km)
        scale = first_pass_fraction * norketamine.mass_ratio * ka / (vm * km)
        c_fp = c_fp * scale[:, None]
        return np.concatenate([c_sys, c_fp], axis=1), np.concatenate([r_sys, r_fp], axis=1)
    return c_sys, r_sys


def _is_uniform(times: FloatArray) -> bool:
    if times.size < 3:
        return False
    d = np.diff(times)
    return bool(np.all(np.abs(d - d[0]) <= 1e-9 * max(abs(d[0]), 1e-300)))


def _direct(
    times: FloatArray,
    i0: int,
    i1: int,
    t_start: float,
    y: FloatArray,
    rates: FloatArray,
    z: FloatArray,
) -> FloatArray:
    """``Σ_j y_j e^{−r_j (t − t_start)} + z`` at ``times[i0:i1]`` by direct exponentials."""
    tau = times[i0:i1] - t_start
    vals = np.einsum("nm,nmt->nt", y, np.exp(-rates[:, :, None] * tau[None, None, :]))
    vals += z[:, None]
    return vals


def _powers(
    base: FloatArray,
    count: int,
    *,
    first: FloatArray | None = None,
    out: FloatArray | None = None,
) -> FloatArray:
    """``first·base**k`` for k = 0..count−1 along a new *leading* axis, by repeated doubling.

    ``out[c:2c] = out[:c] · base**c``: one multiplication per entry (in ``log2(count)``
    contiguous vectorised steps) instead of one exponential; the relative rounding error
    grows like ``log2(count)·ε``. ``first`` defaults to ones; ``out`` (shape
    ``(count, *base.shape)``, may be a strided view) receives the result.
    """
    if out is None:
        out = np.empty((count, *base.shape))
    if first is None:
        out[0] = 1.0
    else:
        out[0] = first
    power = base
    filled = 1
    while filled < count:
        take = min(filled, count - filled)
        np.multiply(out[:take], power, out=out[filled : filled + take])
        filled += take
        if filled < count:
            power = power * power
    return out


def _block_size(starts: Sequence[int], length: int) -> int:
    """Block size dividing every segment start, as close as possible to √T (0 if none).

    With ``R = T // B`` coarse rows the work outside the matrix product is proportional
    to ``R + B``, smallest near ``B = √T``.
    """
    g = 0
    for s in starts:
        g = math.gcd(g, s)
    target = max(1, math.isqrt(length))
    if g == 0:
        return target
    divisors = [b for b in range(1, min(g, 4 * target) + 1) if g % b == 0]
    return min(divisors, key=lambda b: (abs(b - target), -b))


#: Output times within this relative distance of an event count as the event time (so a
#: grid built as ``start + k·step`` still shows the post-dose value at a dose time).
EVENT_SNAP_RTOL = 1e-12


def _snap(t: float) -> float:
    return t - EVENT_SNAP_RTOL * max(1.0, abs(t))


@dataclass(frozen=True)
class Segment:
    """Output times ``[start, stop)`` between two events of one superposition.

    There each patient's contribution is ``Σ_j Y_j e^{−r_j (t − t_s)} + Z``: a sum of
    terms that are all non-increasing where every ``Y_j ≥ 0`` and all non-decreasing where
    every ``Y_j ≤ 0``, so the contribution is monotone there (exactly, for the stored
    floating-point coefficients).

    Attributes
    ----------
    start, stop : int
        Output-time indices.
    nonincreasing, nondecreasing : ndarray of bool, shape (N,)
        Patients whose contribution is certified monotone in that direction.
    scale_mg_per_l : float
        Largest ``Σ_j |Y_j| + |Z|`` over patients: a bound on every term's magnitude there.
    """

    start: int
    stop: int
    nonincreasing: NDArray[np.bool_]
    nondecreasing: NDArray[np.bool_]
    scale_mg_per_l: float


#: Relative slack (of a segment's term magnitude) allowed between computed values and
#: the exact monotone function: rounding of the tables, products and sums is below
#: ~30 ε ≈ 7e-15, and evaluating at a time off by rounding (ε·t) moves a value by at most
#: ``rate·ε·t`` of the scale, far below this for any rate under 10^4 /h.
MONOTONE_SLACK_RTOL = 1e-10


@dataclass(frozen=True)
class MonotonePieces:
    """Where each patient's computed concentration is certified monotone.

    Attributes
    ----------
    bounds : tuple of (int, int)
        Consecutive output-time index ranges ``[start, stop)`` covering every output time.
    nonincreasing, nondecreasing : ndarray of bool, shape (K, N)
        Per piece and patient: the exact solution is monotone in that direction there (a
        constant is both; a patient solved in the cascade basis is neither).
    slack_mg_per_l : float
        Computed values differ from that monotone function by less than this (mg/L), so on
        a stretch ``[a, b]`` of a certified piece every computed value lies within
        ``[min(x_a, x_b) − 2·slack, max(x_a, x_b) + 2·slack]``.
    """

    bounds: tuple[tuple[int, int], ...]
    nonincreasing: NDArray[np.bool_]
    nondecreasing: NDArray[np.bool_]
    slack_mg_per_l: float

    @property
    def certified(self) -> NDArray[np.bool_]:
        """(K, N): monotone in one direction or the other."""
        return self.nonincreasing | self.nondecreasing


def combine_segments(
    groups: Sequence[Sequence[Segment]], n: int, n_t: int, uncertified: NDArray[np.bool_]
) -> MonotonePieces:
    """Pieces on which every superposed contribution is monotone in the same direction.

    Parameters
    ----------
    groups : sequence of sequence of Segment
        The segments of each superposition added into one output.
    n, n_t : int
        Number of patients and of output times.
    uncertified : ndarray of bool, shape (N,)
        Patients to leave uncertified everywhere (solved another way).

    Returns
    -------
    MonotonePieces
    """
    cuts = sorted({0, n_t} | {seg.start for segs in groups for seg in segs})
    k = len(cuts) - 1
    nonincreasing = np.ones((k, n), dtype=bool)
    nondecreasing = np.ones((k, n), dtype=bool)
    scale = 0.0
    for segs in groups:
        group_scale = 0.0
        for seg in segs:
            k0, k1 = cuts.index(seg.start), cuts.index(seg.stop)
            nonincreasing[k0:k1] &= seg.nonincreasing
            nondecreasing[k0:k1] &= seg.nondecreasing
            group_scale = max(group_scale, seg.scale_mg_per_l)
        scale += group_scale
    nonincreasing[:, uncertified] = False
    nondecreasing[:, uncertified] = False
    return MonotonePieces(
        bounds=tuple(itertools.pairwise(cuts)),
        nonincreasing=nonincreasing,
        nondecreasing=nondecreasing,
        slack_mg_per_l=MONOTONE_SLACK_RTOL * scale,
    )


def superpose(
    coef: FloatArray,
    rates: FloatArray,
    events: Sequence[tuple[float, float, float]],
    times: FloatArray,
    out: FloatArray,
    *,
    first: bool,
    segments_out: list[Segment] | None = None,
) -> None:
    """Superpose doses on a polyexponential unit response, writing into ``out``.

    Parameters
    ----------
    coef, rates : ndarray, shape (N, m)
        Unit-bolus response ``Σ coef e^{−rates t}`` (output units per mg).
    events : sequence of (time_h, bolus_mg, rate_change_mg_per_h)
        Boluses and starts/ends of zero-order inputs (already lag-shifted).
    times : ndarray, shape (T,)
        Strictly increasing output times (h).
    out : ndarray, shape (N, T)
        Overwritten when ``first`` is true, otherwise added to.
    first : bool
        Whether this is the first contribution written into ``out``.
    segments_out : list, optional
        If given, one :class:`Segment` per stretch of output times between events is
        appended (where each patient's contribution is certified monotone).

    Notes
    -----
    Between events the output is ``Σ_j Y_j e^{−r_j (t − t_s)} + Z``. On a uniform grid
    whose segment starts share a common divisor ``B`` (the usual case: doses on the
    grid), all segments are evaluated in a single batched matrix product
    ``P (N, R, m+1) @ Q (N, m+1, B)`` with ``P`` the coarse factors
    ``Y_j e^{−r_j τ_row}`` (plus ``Z``) and ``Q`` the fine factors ``e^{−r_j b Δ}``
    (plus ones), written straight into ``out``.
    """
    n, m = coef.shape
    n_t = times.size
    merged: dict[float, list[float]] = {}
    for t, bolus, d_rate in events:
        acc = merged.setdefault(float(t), [0.0, 0.0])
        acc[0] += bolus
        acc[1] += d_rate
    steady = coef / rates  # integral of the unit response (per mg/h)
    # segments: (start index, start time, Y, Z); a leading zero segment before the first event
    segments: list[tuple[int, float, FloatArray, FloatArray]] = []
    zero_y = np.zeros_like(coef)
    zero_z = np.zeros(n)
    ev_times = sorted(merged)
    if not ev_times or np.searchsorted(times, _snap(ev_times[0]), side="left") > 0:
        segments.append((0, float(times[0]), zero_y, zero_z))
    y = zero_y
    rate = 0.0
    t_prev: float | None = None
    for te in ev_times:
        bolus, d_rate = merged[te]
        if t_prev is not None:
            y = y * np.exp(-rates * (te - t_prev))
        y = y + bolus * coef - d_rate * steady
        rate += d_rate
        if abs(rate) <= 1e-12 * max(1.0, abs(d_rate)):
            rate = 0.0
        t_prev = te
        i0 = int(np.searchsorted(times, _snap(te), side="left"))
        if i0 >= n_t:
            break
        seg = (i0, te, y, rate * steady.sum(axis=1))
        if segments and segments[-1][0] == i0:
            segments[-1] = seg  # the previous segment has no grid point
        else:
            segments.append(seg)
    ends = [s[0] for s in segments[1:]] + [n_t]
    if segments_out is not None:
        for (i0, _te, ys, zs), i1 in zip(segments, ends, strict=True):
            if i1 > i0:
                segments_out.append(
                    Segment(
                        i0,
                        i1,
                        np.all(ys >= 0, axis=1),
                        np.all(ys <= 0, axis=1),
                        float(np.max(np.abs(ys).sum(axis=1) + np.abs(zs), initial=0.0)),
                    )
                )
    block = _block_size([s[0] for s in segments], n_t) if _is_uniform(times) else 0
    done = 0
    if block >= 4:
        rows = n_t // block
        done = rows * block
        step = times[1] - times[0]
        # coarse factors in (rows, N, m+1) layout (contiguous writes); matmul takes the view.
        # Z rides along as a last column whose "rate" factor is 1.
        coarse = np.ones((n, m + 1))
        np.exp(-rates * (step * block), out=coarse[:, :m])
        p_rows = np.empty((rows, n, m + 1))
        start = np.empty((n, m + 1))
        for (i0, te, ys, zs), i1 in zip(segments, ends, strict=True):
            r0, r1 = i0 // block, min(-(-i1 // block), rows)
            if r1 <= r0:
                continue
            np.multiply(ys, np.exp(-rates * (times[r0 * block] - te)), out=start[:, :m])
            start[:, m] = zs
            _powers(coarse, r1 - r0, first=start, out=p_rows[r0:r1])
        p = p_rows.transpose(1, 0, 2)
        # fine factors built in (block, N, m+1) layout (a last column of ones carries Z);
        # matmul takes the transposed view, so no copy into (N, m+1, block) is needed
        fine = np.ones((n, m + 1))
        np.exp(-rates * step, out=fine[:, :m])
        q = _powers(fine, block).transpose(1, 2, 0)
        target = out[:, :done]
        view = target.reshape(n, rows, block)
        if first and np.may_share_memory(view, out):
            np.matmul(p, q, out=view)
        elif first:
            target[...] = np.matmul(p, q).reshape(n, done)
        else:
            target += np.matmul(p, q).reshape(n, done)
    for (i0, te, ys, zs), i1 in zip(segments, ends, strict=True):
        lo = max(i0, done)
        if i1 <= lo:
            continue
        vals = _direct(times, lo, i1, te, ys, rates, zs)
        if first:
            out[:, lo:i1] = vals
        else:
            out[:, lo:i1] += vals


# --- confluent rates: the cascade basis -------------------------------------------------------


@dataclass(frozen=True)
class ChainGroup:
    """``G`` chains of ``L`` first-order processes for each of ``N`` patients.

    The unit response of one chain is ``weight · (e^{−x_1 t} * e^{−x_2 t} * ... * e^{−x_L t})``
    (``*`` is convolution), i.e. ``weight`` times the divided difference of ``e^{−x t}`` over
    the chain's rates with sign ``(−1)^{L−1}``; it is finite, and exact, when rates coincide.

    Attributes
    ----------
    rates : ndarray, shape (N, G, L)
        Rate constants along each chain (1/h), in cascade order.
    weight : ndarray, shape (N, G)
        Scale of each chain's response (mg/L per mg, times h^{1−L}).
    """

    rates: FloatArray
    weight: FloatArray


def chain_response(
    bp: BatchParameters,
    output: OutputKind,
    entry: Entry,
    *,
    bioavailability: float = 1.0,
    ka_per_h: float = 0.0,
    first_pass_fraction: float = 0.0,
    norketamine: NorketamineParameters | None = None,
    disposition: tuple[FloatArray, FloatArray] | None = None,
) -> list[ChainGroup]:
    """The response of :func:`unit_response` in the cascade basis (any rates, even equal).

    Each disposition mode ``λ_i`` (coefficient ``A_i``) followed by the cascade's rates
    (:func:`cascade_rates`) is one chain of weight ``A_i · Π k`` (times F for a depot; the
    norketamine formation for the metabolite). After a depot dose with first-pass
    metabolism, the presystemic path ``ka → km`` is one more chain.

    Parameters
    ----------
    bp : BatchParameters
        N patients' parameters.
    output : OutputKind
        Plasma (mg/L parent), effect site (mg/L parent) or norketamine (mg/L).
    entry : Entry
        Central compartment, or an absorption depot emptying at ``ka_per_h·ka_factor``.
    bioavailability : float
        Fraction of a depot's outflow reaching the central compartment (dimensionless).
    ka_per_h : float
        Absorption rate constant of a depot entry (1/h).
    first_pass_fraction : float
        Fraction of a depot's outflow converted presystemically to norketamine
        (dimensionless).
    norketamine : NorketamineParameters, optional
        Required for ``OutputKind.METABOLITE``.
    disposition : tuple, optional
        Precomputed ``disposition_rates(bp)``.

    Returns
    -------
    list of ChainGroup
        Their responses add up to the output (mg/L) after a 1 mg bolus into ``entry``.
    """
    lam, a = disposition if disposition is not None else disposition_rates(bp)
    extras = cascade_rates(bp, output, entry, ka_per_h=ka_per_h, norketamine=norketamine)
    n, modes = lam.shape
    columns = [lam[:, :, None]] + [np.broadcast_to(e[:, None, None], (n, modes, 1)) for e in extras]
    rates = np.ascontiguousarray(np.concatenate(columns, axis=2))
    weight = a.copy()
    for e in extras:
        weight = weight * e[:, None]
    if entry is Entry.DEPOT:
        weight = weight * bioavailability
    if output is not OutputKind.METABOLITE:
        return [ChainGroup(rates, weight)]
    assert norketamine is not None and bp.weight_kg is not None
    km = extras[-1]
    vm = norketamine.volume_l(1.0) * bp.weight_kg
    formation = norketamine.fraction_metabolised * norketamine.mass_ratio * bp.cl_l_per_h
    groups = [ChainGroup(rates, weight * (formation / (vm * km))[:, None])]
    if entry is Entry.DEPOT and first_pass_fraction > 0:
        ka = extras[0]
        scale = first_pass_fraction * norketamine.mass_ratio * ka / vm
        groups.append(ChainGroup(np.stack([ka, km], axis=1)[:, None, :], scale[:, None]))
    return groups


#: Degree of the Taylor polynomial in :func:`chain_propagator` (‖τJ/2^s‖ ≤ 1/2, so the
#: truncation error is below 0.5^17/17! ≈ 2e-20).
_TAYLOR_DEGREE = 16


def chain_propagator(rates: FloatArray, tau_h: FloatArray | float) -> FloatArray:
    """``exp(τ J)`` for chains: ``J`` upper bidiagonal, ``−rates`` on the diagonal, ones above.

    Entry ``(i, j)``, ``i ≤ j``, is the convolution ``e^{−x_i τ} * ... * e^{−x_j τ}``
    (Opitz's formula for divided differences of the exponential), so row 0 holds the
    responses of the chain's basis functions at ``τ``, and ``exp((τ+σ) J) =
    exp(τ J) exp(σ J)`` propagates a state from one time to another.

    Parameters
    ----------
    rates : ndarray, shape (..., L)
        Rate constants along each chain (1/h), positive.
    tau_h : ndarray or float
        Elapsed time (h), non-negative, broadcastable against ``rates[..., 0]``.

    Returns
    -------
    ndarray, shape (..., L, L)
        Upper triangular and non-negative; exact to rounding (scaling and squaring of a
        degree-16 Taylor polynomial; the squarings multiply non-negative matrices, so they
        lose nothing to cancellation).
    """
    tau = np.asarray(tau_h, dtype=np.float64)
    shape = np.broadcast_shapes(rates.shape[:-1], tau.shape)
    size = rates.shape[-1]
    diag = np.arange(size)
    x = np.zeros((*shape, size, size))
    x[..., diag, diag] = -np.broadcast_to(rates, (*shape, size)) * tau[..., None]
    x[..., diag[:-1], diag[1:]] = tau[..., None]
    norm = np.abs(x).sum(axis=-1).max(axis=-1)
    with np.errstate(divide="ignore"):
        squarings = np.ceil(np.log2(np.maximum(norm, 1e-300) / 0.5))
    squarings = np.maximum(squarings, 0).astype(np.int64)
    x /= np.ldexp(1.0, squarings)[..., None, None]
    eye = np.broadcast_to(np.eye(size), x.shape)
    result = eye.copy()
    for k in range(_TAYLOR_DEGREE, 0, -1):
        result = eye + np.matmul(x, result) / k
    for i in range(int(squarings.max(initial=0))):
        squared = np.matmul(result, result)
        result = np.where((squarings > i)[..., None, None], squared, result)
    return result


def _propagate(m: FloatArray, state: FloatArray) -> FloatArray:
    """``m @ state`` for each chain: (..., L, L) @ (..., L)."""
    return np.einsum("...ij,...j->...i", m, state)


def _chain_values(rates: FloatArray, state: FloatArray, tau: FloatArray, step: float) -> FloatArray:
    """``Σ_chains (exp(τ J) state)_0`` at each ``τ`` (``step > 0``: ``τ`` is uniform)."""
    n, groups, size = state.shape
    count = tau.size
    if step > 0 and count >= 4:
        # coarse rows (state after q·B steps) times fine columns (head row after b steps)
        block = max(1, math.isqrt(count))
        rows = -(-count // block)
        fine = chain_propagator(rates, step)
        coarse = chain_propagator(rates, step * block)
        p = np.empty((rows, n, groups, size))
        p[0] = _propagate(chain_propagator(rates, tau[0]), state)
        for q in range(1, rows):
            p[q] = _propagate(coarse, p[q - 1])
        head = np.empty((block, n, groups, size))
        head[0] = 0.0
        head[0, ..., 0] = 1.0
        for b in range(1, block):
            head[b] = np.einsum("...i,...ij->...j", head[b - 1], fine)
        vals = np.einsum("qngl,bngl->nqb", p, head).reshape(n, rows * block)
        return vals[:, :count]
    m = chain_propagator(rates[:, None], tau[None, :, None])  # (N, T, G, L, L)
    return np.einsum("ntgj,ngj->nt", m[..., 0, :], state)


def superpose_chains(
    groups: Sequence[ChainGroup],
    events: Sequence[tuple[float, float, float]],
    times: FloatArray,
    out: FloatArray,
) -> None:
    """Superpose doses on responses in the cascade basis, adding into ``out``.

    Parameters
    ----------
    groups : sequence of ChainGroup
        Unit-bolus response (:func:`chain_response`).
    events : sequence of (time_h, bolus_mg, rate_change_mg_per_h)
        Boluses and starts/ends of zero-order inputs (already lag-shifted).
    times : ndarray, shape (T,)
        Strictly increasing output times (h).
    out : ndarray, shape (N, T)
        Added to.

    Notes
    -----
    The same segments as :func:`superpose`: between events the output is
    ``Σ_chains (exp((t − t_s) J) Y)_0 + Z``, the state ``Y`` propagated exactly from event to
    event. A bolus adds ``bolus·c`` (``c`` is the weight on each chain's last basis
    function); a zero-order input adds ``−rate·s`` to ``Y`` and ``rate·Σ s_0`` to ``Z``,
    where ``s_j = weight / Π_{i ≥ j} x_i`` expresses the integral of the unit response,
    ``∫_0^τ h = Σ s_0 − Σ_j s_j φ_j(τ)``.
    """
    n_t = times.size
    merged: dict[float, list[float]] = {}
    for t, bolus, d_rate in events:
        acc = merged.setdefault(float(t), [0.0, 0.0])
        acc[0] += bolus
        acc[1] += d_rate
    ev_times = sorted(merged)
    step = float(times[1] - times[0]) if _is_uniform(times) else 0.0
    for group in groups:
        x = group.rates
        coef = np.zeros(x.shape)
        coef[..., -1] = group.weight
        steady = group.weight[..., None] / np.cumprod(x[..., ::-1], axis=-1)[..., ::-1]
        z_unit = steady[..., 0].sum(axis=1)
        segments: list[tuple[int, float, FloatArray, float]] = []
        y = np.zeros(x.shape)
        rate = 0.0
        t_prev: float | None = None
        for te in ev_times:
            bolus, d_rate = merged[te]
            if t_prev is not None:
                y = _propagate(chain_propagator(x, te - t_prev), y)
            y = y + bolus * coef - d_rate * steady
            rate += d_rate
            if abs(rate) <= 1e-12 * max(1.0, abs(d_rate)):
                rate = 0.0
            t_prev = te
            i0 = int(np.searchsorted(times, _snap(te), side="left"))
            if i0 >= n_t:
                break
            if segments and segments[-1][0] == i0:
                segments.pop()  # the previous segment has no grid point
            segments.append((i0, te, y, rate))
        ends = [s[0] for s in segments[1:]] + [n_t]
        for (i0, te, ys, seg_rate), i1 in zip(segments, ends, strict=True):
            if i1 <= i0:
                continue
            out[:, i0:i1] += _chain_values(x, ys, times[i0:i1] - te, step)
            if seg_rate:
                out[:, i0:i1] += (seg_rate * z_unit)[:, None]


# --- dispatch ------------------------------------------------------------------------------


def class_key(inp: Input) -> tuple[Entry, float, float, float]:
    """Inputs sharing this key share one unit response.

    Parameters
    ----------
    inp : Input
        One expanded administration.

    Returns
    -------
    tuple of (Entry, float, float, float)
        Entry, ka (1/h), bioavailability and first-pass fraction (0, 1, 0 for central).
    """
    if inp.entry is Entry.CENTRAL:
        return (Entry.CENTRAL, 0.0, 1.0, 0.0)
    return (Entry.DEPOT, inp.ka_per_h, inp.bioavailability, inp.first_pass_fraction)


def events_of(inputs: Sequence[Input]) -> list[tuple[float, float, float]]:
    """Events (time, bolus mg, rate change mg/h) of a list of inputs.

    Parameters
    ----------
    inputs : sequence of Input
        Administrations sharing one unit response (:func:`class_key`).

    Returns
    -------
    list of (time_h, bolus_mg, rate_change_mg_per_h)
        A bolus is one event; a zero-order input starts (+rate) and ends (−rate).
    """
    events: list[tuple[float, float, float]] = []
    for inp in inputs:
        if inp.duration_h > 0:
            events.append((inp.start_h, 0.0, inp.rate_mg_per_h))
            events.append((inp.start_h + inp.duration_h, 0.0, -inp.rate_mg_per_h))
        else:
            events.append((inp.start_h, inp.amount_mg, 0.0))
    return events


def solve(
    bp: BatchParameters,
    inputs: Sequence[Input],
    times: FloatArray,
    output: OutputKind | str,
    norketamine: NorketamineParameters | None = None,
    out: FloatArray | None = None,
    disposition: tuple[FloatArray, FloatArray] | None = None,
) -> FloatArray:
    """Concentration of ``output`` (mg/L) for every patient at every time.

    Parameters
    ----------
    bp : BatchParameters
        N patients' parameters.
    inputs : sequence of Input
        Expanded administrations (see :func:`painclinic.pharmacology.regimen.expand_inputs`).
    times : ndarray, shape (T,)
        Output times (h), strictly increasing.
    output : OutputKind or str
        Which concentration: ``OutputKind.PLASMA``, ``EFFECT`` or ``METABOLITE`` (or their
        text, ``"plasma"``...).
    norketamine : NorketamineParameters, optional
        Metabolite parameters; required for ``OutputKind.METABOLITE``.
    out : ndarray, shape (N, T), optional
        Preallocated result.
    disposition : tuple, optional
        Precomputed :func:`disposition_rates` (reused across outputs).

    Returns
    -------
    ndarray, shape (N, T)
        Concentrations in mg/L (right-continuous at dose times).

    Notes
    -----
    Patients whose cascade has (nearly) coincident rates (:func:`confluent_patients`) are
    solved in the cascade basis (:func:`chain_response`, :func:`superpose_chains`); the
    others, usually all of them, by partial fractions (:func:`unit_response`,
    :func:`superpose`).
    """
    return _solve(bp, inputs, times, output, norketamine, out, disposition, None)


def solve_certified(
    bp: BatchParameters,
    inputs: Sequence[Input],
    times: FloatArray,
    output: OutputKind | str,
    norketamine: NorketamineParameters | None = None,
    out: FloatArray | None = None,
    disposition: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, MonotonePieces]:
    """:func:`solve`, and where each patient's concentration is certified monotone.

    Parameters
    ----------
    bp : BatchParameters
        N patients' parameters.
    inputs : sequence of Input
        Expanded administrations.
    times : ndarray, shape (T,)
        Output times (h), strictly increasing.
    output : OutputKind or str
        Which concentration (as :func:`solve`).
    norketamine : NorketamineParameters, optional
        Metabolite parameters; required for ``OutputKind.METABOLITE``.
    out : ndarray, shape (N, T), optional
        Preallocated result.
    disposition : tuple, optional
        Precomputed :func:`disposition_rates`.

    Returns
    -------
    conc : ndarray, shape (N, T)
        The same values as :func:`solve` (mg/L).
    pieces : MonotonePieces
        Between consecutive events every contribution is a sum of exponentials; where all
        its coefficients share a sign it is monotone (see :class:`Segment`). Summaries use
        this to bound a patient's values over a stretch of time by the two ends.
    """
    collected = _Collected()
    out = _solve(bp, inputs, times, output, norketamine, out, disposition, collected)
    uncertified = np.zeros(bp.n, dtype=bool)
    uncertified[collected.uncertified] = True
    return out, combine_segments(collected.groups, bp.n, times.size, uncertified)


@dataclass
class _Collected:
    """Segments of each superposition, and the patients solved in the cascade basis."""

    groups: list[list[Segment]] = field(default_factory=list)
    uncertified: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))


def _solve(
    bp: BatchParameters,
    inputs: Sequence[Input],
    times: FloatArray,
    output: OutputKind | str,
    norketamine: NorketamineParameters | None,
    out: FloatArray | None,
    disposition: tuple[FloatArray, FloatArray] | None,
    collect: _Collected | None,
) -> FloatArray:
    if out is None:
        out = np.empty((bp.n, times.size))
    kind = OutputKind(output)
    groups: dict[tuple[Entry, float, float, float], list[Input]] = {}
    for inp in inputs:
        groups.setdefault(class_key(inp), []).append(inp)
    if not groups:
        out[:] = 0.0
        return out
    disp = disposition if disposition is not None else disposition_rates(bp)
    confluent = np.zeros(bp.n, dtype=bool)
    for entry, ka, _f, _fpm in groups:
        extras = cascade_rates(bp, kind, entry, ka_per_h=ka, norketamine=norketamine)
        confluent |= confluent_patients(disp[0], extras)
    if not confluent.any():
        _solve_separated(bp, groups, times, kind, norketamine, disp, out, collect)
        return out
    # Every row of the fast path depends on its own patient only, so it runs on the whole
    # batch (no copy of the N x T result) and the confluent rows, which divide by a zero or
    # tiny rate difference there, are overwritten below.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        _solve_separated(bp, groups, times, kind, norketamine, disp, out, collect)
    lam, a = disp
    index = np.flatnonzero(confluent)
    if collect is not None:
        collect.uncertified = index
    sub, sub_disp = bp.take(index), (lam[index], a[index])
    part = np.zeros((index.size, times.size))
    for (entry, ka, f, fpm), members in groups.items():
        chains = chain_response(
            sub,
            kind,
            entry,
            bioavailability=f,
            ka_per_h=ka,
            first_pass_fraction=fpm,
            norketamine=norketamine,
            disposition=sub_disp,
        )
        superpose_chains(chains, events_of(members), times, part)
    out[index] = part
    return out


def _solve_separated(
    bp: BatchParameters,
    groups: dict[tuple[Entry, float, float, float], list[Input]],
    times: FloatArray,
    kind: OutputKind,
    norketamine: NorketamineParameters | None,
    disp: tuple[FloatArray, FloatArray],
    out: FloatArray,
    collect: _Collected | None = None,
) -> None:
    """The fast path: partial fractions and batched exponential tables, into ``out``."""
    first = True
    for (entry, ka, f, fpm), members in groups.items():
        coef, rates = unit_response(
            bp,
            kind,
            entry,
            bioavailability=f,
            ka_per_h=ka,
            first_pass_fraction=fpm,
            norketamine=norketamine,
            disposition=disp,
        )
        segments: list[Segment] | None = None
        if collect is not None:
            segments = []
            collect.groups.append(segments)
        superpose(coef, rates, events_of(members), times, out, first=first, segments_out=segments)
        first = False
