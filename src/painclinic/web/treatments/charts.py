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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from painclinic.pharmacology import MODELS, predict_crps_relief, simulate
from painclinic.pharmacology.models import DEFAULT_MODEL
from painclinic.pharmacology.thresholds import BANDS
from painclinic.web.lib.wording import without_evidence_tags

#: Display units: ketamine in ng/mL (the literature's unit), lidocaine in mcg/mL.
DISPLAY_UNIT = {"ketamine": ("ng/mL", 1000.0), "lidocaine": ("mcg/mL", 1.0)}
BAND_COLOURS = {"analgesic": "#2ca02c", "dissociative": "#ff7f0e", "toxic": "#d62728"}
#: Full references of the band sources named in painclinic.pharmacology.thresholds.
BAND_CITATIONS = {
    "ketamine": "Zanos P et al. Pharmacol Rev 2018;70:621, Table 1",
    "lidocaine": "Bauer LA, Applied Clinical Pharmacokinetics, chapter Lidocaine",
}
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
    for band in bands[2:]:
        # A toxic band within reach of the curve is shown with some height, not as a sliver.
        if band.lower_mg_per_l * factor < 2.5 * max(ymax, 1e-9):
            visible_top = max(visible_top, band.lower_mg_per_l * factor * 1.25)
    off_chart = []
    for band in bands:
        lower = band.lower_mg_per_l * factor
        upper = (band.upper_mg_per_l or band.lower_mg_per_l * 2) * factor
        if lower >= visible_top:
            off_chart.append(f"The {band.kind} band ({band.label}) lies above the chart")
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
    parts = (part.strip() for band in bands for part in band.source.split(";"))
    sources = "; ".join(dict.fromkeys(p for p in parts if p))
    sources = f"{BAND_CITATIONS.get(drug, drug)}: {sources}"
    caption = without_evidence_tags(
        f"Predicted plasma concentration for a typical patient of this weight (not a measured "
        f"level), model: {model_title}; {citation.rstrip('.')}. Exact closed-form simulation. "
        f"Bands: {sources}."
    )
    if off_chart:
        caption += " " + "; ".join(off_chart) + "."
    warnings = tuple(dict.fromkeys(w for _, r, _, _ in results for w in r.warnings))
    return Chart(_to_svg(fig), caption, warnings)


# --- CRPS relief -------------------------------------------------------------------------------

DAHAN_2011 = (
    "Dahan A, Olofsen E, Sigtermans M, et al. Eur J Pain 2011;15:258-267, "
    "doi:10.1016/j.ejpain.2010.06.016"
)


def series_regimen(
    drug: str,
    patient: Mapping[str, Any],
    sessions: Iterable[tuple[float, Iterable[Mapping[str, Any]]]],
) -> dict[str, Any]:
    """A regimen of a whole series: ``sessions`` is ``(day_offset, steps)`` pairs."""
    steps = []
    for day_offset, session_steps in sessions:
        for step in session_steps:
            steps.append({**step, "start_min": float(day_offset) * 24 * 60 + step["start_min"]})
    return regimen_from_steps(drug, patient, steps, tail_h=0.0, step_h=1.0)


def relief_chart(series: Mapping[str, Any], *, weeks: float = 12.0) -> Chart:
    """Predicted CRPS pain relief from the first infusion to ``weeks`` (Dahan 2011 model).

    ``series`` is a ketamine regimen of the whole series (:func:`series_regimen`). The model is
    :func:`painclinic.pharmacology.predict_crps_relief`; this function only draws its result.
    """
    doses = series["doses"]
    series_end_h = max(d["time_h"] + d["duration_h"] for d in doses)
    weeks_after = max(0.5, weeks - series_end_h / (7 * 24))
    result = predict_crps_relief(dict(series), weeks_after=weeks_after, step_h=6.0)
    fig, ax = _figure()
    weeks_axis = result.times_h / (7 * 24)
    ax.plot(
        weeks_axis,
        result.relief_fraction * 100,
        color="#6a3d9a",
        linewidth=2.2,
        label="predicted relief (typical patient)",
    )
    ax.axvspan(0, series_end_h / (7 * 24), color="#0b5cad", alpha=0.12, label="infusion series")
    ax.set_xlim(0, weeks)
    ax.set_ylim(0, 100)
    ax.set_xlabel("time from the first infusion (weeks)")
    ax.set_ylabel("predicted pain relief (% of maximal relief)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.92)
    at_12 = float(result.relief_fraction[-1]) * 100
    caption = without_evidence_tags(
        "Predicted CRPS pain relief for a typical patient (a model prediction, not a promise "
        "of benefit): Dahan 2011 PK-PD model, an effect compartment with a 10.9-day onset/offset "
        "half-life and C50 10.5 ng/mL S(+)-ketamine, driven by this plan's predicted plasma "
        f"concentration; {DAHAN_2011}. "
        f"Predicted relief at week {weeks:g}: {at_12:.0f}% of maximal."
    )
    return Chart(_to_svg(fig), caption, tuple(result.warnings))
