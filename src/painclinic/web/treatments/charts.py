"""Server-rendered SVG charts of a plan: predicted concentration against the bands, CRPS relief.

Reusable by the infusions app to overlay what was delivered on what was planned::

    from painclinic.web.treatments.charts import (
        concentration_svg, regimen_from_steps, svg_data_uri,
    )
    planned = regimen_from_steps("ketamine", patient_covariates, planned_session.steps)
    delivered = regimen_from_steps("ketamine", patient_covariates, delivered_segments)
    svg = concentration_svg(planned, delivered)   # -> "<svg ...>"
    <img src="{{ svg_data_uri(svg) }}" alt="...">  # CSP-safe (img-src data:)

All numbers come from :mod:`painclinic.pharmacology` (``simulate``, the band table and the model
citations); nothing here computes a concentration. A regimen is the pharmacology regimen dict
(``{"drug", "patient", "doses", "times_h"}``, times in hours).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from painclinic.pharmacology import MODELS, simulate
from painclinic.pharmacology.models import DEFAULT_MODEL
from painclinic.pharmacology.thresholds import BANDS

#: Display units: ketamine in ng/mL (the literature's unit), lidocaine in mcg/mL.
DISPLAY_UNIT = {"ketamine": ("ng/mL", 1000.0), "lidocaine": ("mcg/mL", 1.0)}
BAND_COLOURS = {"analgesic": "#2ca02c", "dissociative": "#ff7f0e", "toxic": "#d62728"}
BAND_SOURCE_NOTE = (
    "Bands from painclinic.pharmacology.thresholds: ketamine Zanos 2018 Pharmacol Rev 70:621 "
    "Table 1 [S]; lidocaine Bauer, Applied Clinical Pharmacokinetics [S] (5-12 mcg/mL [S2])."
)
#: Hours simulated after the last infusion ends, so the fall is visible.
TAIL_H = 2.0


@dataclass(frozen=True)
class Chart:
    """An SVG chart with the caption to print under it (model, citation, warnings)."""

    svg: str
    caption: str
    warnings: tuple[str, ...] = ()

    @property
    def data_uri(self) -> str:
        return svg_data_uri(self.svg)


def svg_data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...`` for an ``<img src>`` (inline SVG would break the CSP)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def regimen_from_steps(
    drug: str,
    patient: Mapping[str, Any],
    steps: Iterable[Mapping[str, Any]],
    *,
    tail_h: float = TAIL_H,
    step_h: float | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """A pharmacology regimen dict from planned (or delivered) rate segments.

    ``steps`` are dicts with ``start_min``, ``duration_min`` and ``rate_mg_per_h`` (the
    ``PlannedSession.steps`` format); segments with a zero rate (a pause) are skipped.
    ``patient`` holds the covariates (``weight_kg`` required; ``height_cm``, ``age_years``,
    ``sex`` optional).
    """
    doses = []
    end_min = 0.0
    for step in steps:
        start = float(step["start_min"])
        duration = float(step["duration_min"])
        rate = float(step["rate_mg_per_h"])
        end_min = max(end_min, start + duration)
        if rate <= 0 or duration <= 0:
            continue
        doses.append(
            {
                "route": "iv_infusion",
                "time_h": start / 60.0,
                "rate_mg_per_h": rate,
                "duration_h": duration / 60.0,
            }
        )
    stop_h = end_min / 60.0 + tail_h
    if step_h is None:
        # About 400 points whatever the length (a 4-h session or a 5-day infusion).
        step_h = max(0.01, round(stop_h / 400, 3))
    regimen: dict[str, Any] = {
        "drug": drug,
        "patient": {k: v for k, v in patient.items() if v is not None},
        "doses": doses,
        "times_h": {"start": 0, "stop": stop_h, "step": step_h},
    }
    if model:
        regimen["model"] = model
    return regimen


def model_citation(drug: str, model: str | None = None) -> tuple[str, str]:
    """(model title, citation) of the model the simulation uses."""
    spec = MODELS[model or DEFAULT_MODEL[drug]]
    return spec.title, spec.citation


def _figure() -> tuple[Figure, Any]:
    fig, ax = plt.subplots(figsize=(9.6, 4.6), dpi=100)
    return fig, ax


def _to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def concentration_svg(
    planned_regimen: Mapping[str, Any],
    delivered_regimen: Mapping[str, Any] | None = None,
    *,
    title: str | None = None,
) -> str:
    """SVG of the predicted plasma concentration (and the delivered one, if given) vs bands."""
    return concentration_chart(planned_regimen, delivered_regimen, title=title).svg


def concentration_chart(
    planned_regimen: Mapping[str, Any],
    delivered_regimen: Mapping[str, Any] | None = None,
    *,
    title: str | None = None,
) -> Chart:
    """:func:`concentration_svg` with its caption and the simulation's warnings."""
    drug = str(planned_regimen["drug"])
    unit, factor = DISPLAY_UNIT[drug]
    planned = simulate(dict(planned_regimen))
    results = [("predicted from the plan", planned, "black", "-")]
    if delivered_regimen is not None:
        delivered = simulate(dict(delivered_regimen))
        results.append(("predicted from what was delivered", delivered, "#0b5cad", "--"))
    fig, ax = _figure()
    ymax = 0.0
    xmax = 0.0
    for label, result, colour, style in results:
        values = result.plasma_mg_per_l * factor
        ax.plot(result.times_h, values, color=colour, linestyle=style, linewidth=2.2, label=label)
        ymax = max(ymax, float(values.max()) if values.size else 0.0)
        xmax = max(xmax, float(result.times_h[-1]))
    bands = BANDS.get(drug, ())
    # Show the analgesic and dissociative bands even when the curve stays below them.
    visible_top = max(
        [ymax * 1.25] + [(b.upper_mg_per_l or b.lower_mg_per_l) * factor * 1.05 for b in bands[:2]]
    )
    off_chart = []
    for band in bands:
        lower = band.lower_mg_per_l * factor
        upper = (band.upper_mg_per_l or band.lower_mg_per_l * 2) * factor
        if lower >= visible_top:
            off_chart.append(f"{band.kind} band ({band.label}) starts above the chart")
            continue
        ax.axhspan(
            lower,
            min(upper, visible_top),
            color=BAND_COLOURS.get(band.kind, "#999999"),
            alpha=0.16,
            label=f"{band.kind}: {band.label}",
        )
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, visible_top)
    ax.set_xlabel("time from the start of the session (h)")
    ax.set_ylabel(f"{drug} plasma concentration ({unit})")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.92)
    if title:
        ax.set_title(title)
    model_title, citation = model_citation(drug, planned.model)
    caption = (
        f"Predicted plasma concentration for a typical patient of this weight (not a measured "
        f"level), model: {model_title} ({planned.model}); {citation}. Exact closed-form "
        f"simulation by painclinic.pharmacology.simulate. {BAND_SOURCE_NOTE}"
    )
    if off_chart:
        caption += " " + "; ".join(off_chart) + "."
    warnings = tuple(dict.fromkeys(w for _, r, _, _ in results for w in r.warnings))
    return Chart(_to_svg(fig), caption, warnings)


# --- CRPS relief -------------------------------------------------------------------------------


def relief_predictor() -> Any:
    """``painclinic.pharmacology.predict_crps_relief`` or None while it is not released."""
    import painclinic.pharmacology as pharmacology

    return getattr(pharmacology, "predict_crps_relief", None)


def _series(result: Any, names: Sequence[str]) -> Any:
    for name in names:
        value = result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)
        if value is not None:
            return value
    return None


def relief_chart(regimen: Mapping[str, Any], *, weeks: int = 12) -> Chart | None:
    """Predicted CRPS pain relief over ``weeks`` (Dahan 2011 model) or None if unavailable.

    The model lives in :func:`painclinic.pharmacology.predict_crps_relief`; this function only
    draws what it returns.
    """
    predict = relief_predictor()
    if predict is None:
        return None
    result = predict(dict(regimen), weeks=weeks)
    times_days = _series(result, ("times_days", "days", "times_d"))
    if times_days is None:
        hours = _series(result, ("times_h",))
        times_days = None if hours is None else [float(h) / 24 for h in hours]
    relief = _series(result, ("relief_fraction", "relief", "effect_fraction", "relief_percent"))
    if times_days is None or relief is None:
        return None
    values = [float(v) for v in relief]
    if values and max(values) <= 1.0:
        values = [v * 100 for v in values]
    fig, ax = _figure()
    weeks_axis = [float(d) / 7 for d in times_days]
    ax.plot(weeks_axis, values, color="#6a3d9a", linewidth=2.2, label="predicted relief")
    ax.set_xlim(0, weeks)
    ax.set_ylim(0, max(100.0, max(values, default=0) * 1.1))
    ax.set_xlabel("time from the first infusion (weeks)")
    ax.set_ylabel("predicted pain relief (% of maximum effect)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    citation = str(
        _series(result, ("citation", "source"))
        or "Dahan A et al. Eur J Pain 2011;15:258, doi:10.1016/j.ejpain.2010.06.016"
    )
    caption = (
        "Predicted CRPS pain relief (population typical value, not a promise of benefit) from "
        "the Dahan 2011 PK-PD model (slow onset/offset of analgesia, S-ketamine 100-h infusion "
        f"study) via painclinic.pharmacology.predict_crps_relief; {citation}."
    )
    raw_warnings = _series(result, ("warnings",)) or ()
    return Chart(_to_svg(fig), caption, tuple(str(w) for w in raw_warnings))
