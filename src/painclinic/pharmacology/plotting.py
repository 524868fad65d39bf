"""Concentration plots (matplotlib, Agg backend) with analgesic/dissociative/toxic bands."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from numpy.typing import NDArray

from painclinic.pharmacology.population import PopulationResult
from painclinic.pharmacology.simulation import SimulationResult
from painclinic.pharmacology.thresholds import BANDS

FloatArray = NDArray[np.float64]

_COLOURS = {
    "analgesic": "#2ca02c",
    "dissociative": "#ff7f0e",
    "caution": "#ff7f0e",
    "toxic": "#d62728",
}


def _decorate(
    ax: Axes,
    drug: str | None,
    dose_times: tuple[float, ...],
    times: FloatArray,
    series: list[FloatArray],
    reference_mg_per_l: float | None = None,
) -> None:
    """Bands, dose markers, axes. A log y-axis is used when a bolus peak would flatten the
    rest of the curve (peak > 5 × the 90th percentile of the first series' positive values).
    """
    values = np.concatenate([s[np.isfinite(s)] for s in series])
    ymax = float(values.max()) if values.size else 1.0
    if reference_mg_per_l is not None:
        ymax = max(ymax, reference_mg_per_l * 1.05)
    positive = series[0][series[0] > 0]
    log = positive.size > 0 and ymax > 5 * float(np.percentile(positive, 90))
    ylo = ymax * 1e-3 if log else 0.0
    for band in BANDS.get(drug or "", ()):
        upper = band.upper_mg_per_l if band.upper_mg_per_l is not None else ymax * 10
        if band.lower_mg_per_l > ymax * 1.2 or upper < ylo:
            continue
        ax.axhspan(
            band.lower_mg_per_l,
            upper,
            color=_COLOURS[band.kind],
            alpha=0.15,
            label=band.label,
        )
    shown = [t for t in dose_times if times[0] <= t <= times[-1]]
    for i, t in enumerate(shown):
        ax.axvline(t, color="grey", linestyle=":", linewidth=1, label="dose" if i == 0 else None)
    span = float(times[-1] - times[0]) or 1.0
    ax.set_xlim(float(times[0]) - 0.01 * span, float(times[-1]))
    ax.set_xlabel("time (h)")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(ylo, ymax * 2)
        ax.set_ylabel("concentration (mg/L = mcg/mL), log scale")
    else:
        ax.set_ylim(0, ymax * 1.15 if ymax > 0 else 1)
        ax.set_ylabel("concentration (mg/L = mcg/mL)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)


def plot_simulation(result: SimulationResult, path: str | os.PathLike[str]) -> None:
    """Write a PNG of plasma, effect-site and norketamine concentrations.

    Parameters
    ----------
    result : SimulationResult
    path : path-like
        Output PNG file.
    """
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    t = result.times_h
    ax.plot(t, result.plasma_mg_per_l, color="black", linewidth=1.8, label="plasma")
    series: list[FloatArray] = [result.plasma_mg_per_l]
    if result.effect_site_mg_per_l is not None:
        ax.plot(
            t, result.effect_site_mg_per_l, color="tab:blue", linestyle="--", label="effect site"
        )
        series.append(result.effect_site_mg_per_l)
    if result.metabolite_mg_per_l is not None:
        ax.plot(
            t, result.metabolite_mg_per_l, color="tab:purple", linestyle="-.", label="norketamine"
        )
        series.append(result.metabolite_mg_per_l)
    _decorate(ax, result.drug, result.dose_times_h, t, series)
    ax.set_title(f"{result.drug or 'custom'} — model {result.model}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_population(result: PopulationResult, path: str | os.PathLike[str]) -> None:
    """Write a PNG of the median and 5–95th percentile band, with the threshold."""
    if not result.percentiles_mg_per_l:
        raise ValueError("population result has no percentiles (summaries=False)")
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    t = result.times_h
    p5, p50, p95 = (result.percentiles_mg_per_l[p] for p in (5.0, 50.0, 95.0))
    ax.fill_between(t, p5, p95, color="tab:blue", alpha=0.25, label="5th–95th percentile")
    ax.plot(t, p50, color="tab:blue", linewidth=1.8, label="median")
    if result.threshold_mg_per_l is not None:
        prob = result.probability_exceeding
        label = f"threshold {result.threshold_mg_per_l:g} mg/L"
        if prob is not None:
            label += f" (P exceed = {prob:.1%})"
        ax.axhline(result.threshold_mg_per_l, color="black", linestyle="--", label=label)
    _decorate(ax, result.drug, result.dose_times_h, t, [p5, p50, p95], result.threshold_mg_per_l)
    ax.set_title(f"{result.drug or 'custom'} — {result.n} virtual patients (seed {result.seed})")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
