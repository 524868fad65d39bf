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

Coincident rate constants (e.g. ``ka`` equal to a disposition rate) make the partial
fractions singular; such a rate is moved by a relative ``2e-7`` (error ≈ 1e-7 relative,
below the 1e-6 test tolerance). Three or more coincident rates (contrived) are separated
by ``1e-5`` (error ≈ 1e-5 relative); see :func:`separate_rates`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from painclinic.pharmacology.enums import Entry, OutputKind
from painclinic.pharmacology.models import NorketamineParameters
from painclinic.pharmacology.regimen import Input

FloatArray = NDArray[np.float64]

#: Relative separation below which two rate constants are considered coincident.
COINCIDENCE_TOL = 1e-7


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
        # keep k21 and k31 distinct so that the partial fractions stay finite
        close = np.abs(k31 - k21) <= COINCIDENCE_TOL * np.maximum(k31, k21)
        k31 = np.where(close, k21 * (1 + 2 * COINCIDENCE_TOL), k31)
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


#: Window (relative) within which rates are treated as near-coincident.
CLUSTER_WINDOW = 1e-5
#: Separation used when three or more rates are near-coincident.
CLUSTER_SEPARATION = 1e-5


def separate_rates(lam: FloatArray, extras: Sequence[FloatArray]) -> list[FloatArray]:
    """Move extra rate constants (ka, ke0, km) away from coincident rates.

    Parameters
    ----------
    lam : ndarray, shape (N, n)
        Disposition rates (1/h); never changed.
    extras : sequence of ndarray, shape (N,)
        Further rates in cascade order (e.g. ka then ke0).

    Returns
    -------
    list of ndarray
        Adjusted extras. Where a rate lies within a relative 1e-7 of one other, it is moved
        to a relative 2e-7 (error ≈ 1e-7). Where three or more rates lie within 1e-5 of each
        other (contrived parameter sets such as ka = ke0 = CL/V), the extras are spaced a
        relative 1e-5 apart (perturbation error ≈ 1e-5, cancellation error ≈ 1e-6).
    """
    if not extras:
        return []
    allr = np.concatenate([lam, np.stack(list(extras), axis=1)], axis=1)
    m = allr.shape[1]
    pair = np.abs(allr[:, :, None] - allr[:, None, :]) / np.maximum(
        allr[:, :, None], allr[:, None, :]
    )
    pair[:, np.arange(m), np.arange(m)] = np.inf
    triple = ((pair <= CLUSTER_WINDOW).sum(axis=2) >= 2).any(axis=1)
    delta = np.where(triple, CLUSTER_SEPARATION, 2 * COINCIDENCE_TOL)
    threshold = np.where(triple, CLUSTER_SEPARATION, COINCIDENCE_TOL)
    current = lam
    out: list[FloatArray] = []
    for e in extras:
        rel = np.abs(current - e[:, None]) / np.maximum(current, e[:, None])
        near = rel <= np.maximum(threshold, COINCIDENCE_TOL)[:, None] * 1.5
        top = np.where(near, current, -np.inf).max(axis=1)
        need = rel.min(axis=1) < threshold
        e_new = np.where(need, top * (1 + delta), e)
        out.append(e_new)
        current = np.concatenate([current, e_new[:, None]], axis=1)
    return out


def convolve_first_order(
    coef: FloatArray, rates: FloatArray, k: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Exact convolution of ``Σ c_i e^{−r_i t}`` with ``k e^{−k t}``.

    Parameters
    ----------
    coef, rates : ndarray, shape (N, m)
        Polyexponential coefficients and decay rates (1/h).
    k : ndarray, shape (N,)
        First-order rate constant (1/h); must differ from every rate (see
        :func:`separate_rates`).

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

    Parameters
    ----------
    bp : BatchParameters
    output : OutputKind
        Plasma (mg/L parent), effect site (mg/L parent) or norketamine (mg/L).
    entry : Entry
        Central compartment, or an absorption depot emptying at ``ka_per_h·ka_factor``
        with fraction ``bioavailability`` reaching the central compartment and
        ``first_pass_fraction`` converted presystemically to norketamine.
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
    sep = separate_rates(lam, extras)
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


def _powers(base: FloatArray, count: int) -> FloatArray:
    """``base**k`` for k = 0..count−1 along a new *leading* axis, by repeated doubling.

    ``out[c:2c] = out[:c] · base**c``: one multiplication per entry (in ``log2(count)``
    contiguous vectorised steps) instead of one exponential; the relative rounding error
    grows like ``log2(count)·ε``.
    """
    out = np.empty((count, *base.shape))
    out[0] = 1.0
    power = base
    filled = 1
    while filled < count:
        take = min(filled, count - filled)
        np.multiply(out[:take], power, out=out[filled : filled + take])
        filled += take
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


def superpose(
    coef: FloatArray,
    rates: FloatArray,
    events: Sequence[tuple[float, float, float]],
    times: FloatArray,
    out: FloatArray,
    *,
    first: bool,
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
    block = _block_size([s[0] for s in segments], n_t) if _is_uniform(times) else 0
    done = 0
    if block >= 4:
        rows = n_t // block
        done = rows * block
        step = times[1] - times[0]
        coarse = np.exp(-rates * (step * block))
        # coarse factors in (rows, N, m+1) layout (contiguous writes); matmul takes the view
        p_rows = np.empty((rows, n, m + 1))
        for (i0, te, ys, zs), i1 in zip(segments, ends, strict=True):
            r0, r1 = i0 // block, min(-(-i1 // block), rows)
            if r1 <= r0:
                continue
            start = ys * np.exp(-rates * (times[r0 * block] - te))
            np.multiply(_powers(coarse, r1 - r0), start, out=p_rows[r0:r1, :, :m])
            p_rows[r0:r1, :, m] = zs
        p = p_rows.transpose(1, 0, 2)
        q = np.empty((n, m + 1, block))
        q[:, :m, :] = _powers(np.exp(-rates * step), block).transpose(1, 2, 0)
        q[:, m, :] = 1.0
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


def class_key(inp: Input) -> tuple[Entry, float, float, float]:
    """Inputs sharing this key share one unit response."""
    if inp.entry is Entry.CENTRAL:
        return (Entry.CENTRAL, 0.0, 1.0, 0.0)
    return (Entry.DEPOT, inp.ka_per_h, inp.bioavailability, inp.first_pass_fraction)


def events_of(inputs: Sequence[Input]) -> list[tuple[float, float, float]]:
    """Events (time, bolus mg, rate change mg/h) of a list of inputs."""
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
    out : ndarray, shape (N, T), optional
        Preallocated result.
    disposition : tuple, optional
        Precomputed :func:`disposition_rates` (reused across outputs).

    Returns
    -------
    ndarray, shape (N, T)
        Concentrations in mg/L (right-continuous at dose times).
    """
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
    first = True
    for key, members in groups.items():
        entry, ka, f, fpm = key
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
        superpose(coef, rates, events_of(members), times, out, first=first)
        first = False
    return out
