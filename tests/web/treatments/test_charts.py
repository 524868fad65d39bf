"""The plan's charts: SVG with axis labels, legend and a caption naming the model."""

from __future__ import annotations

import base64

from painclinic.web.treatments.charts import (
    concentration_chart,
    concentration_svg,
    regimen_from_steps,
    svg_data_uri,
)


def test_regimen_from_steps_builds_iv_infusions_in_hours_and_skips_pauses():
    regimen = regimen_from_steps(
        "ketamine",
        {"weight_kg": 80, "height_cm": None},
        [
            {"start_min": 0, "duration_min": 60, "rate_mg_per_h": 10},
            {"start_min": 60, "duration_min": 30, "rate_mg_per_h": 0},
            {"start_min": 90, "duration_min": 150, "rate_mg_per_h": 25},
        ],
    )
    assert regimen["patient"] == {"weight_kg": 80}
    assert regimen["doses"] == [
        {"route": "iv_infusion", "time_h": 0.0, "rate_mg_per_h": 10.0, "duration_h": 1.0},
        {"route": "iv_infusion", "time_h": 1.5, "rate_mg_per_h": 25.0, "duration_h": 2.5},
    ]
    assert regimen["times_h"]["stop"] == 6.0


def test_concentration_chart_has_axes_legend_bands_and_caption():
    regimen = regimen_from_steps(
        "ketamine", {"weight_kg": 80}, [{"start_min": 0, "duration_min": 240, "rate_mg_per_h": 25}]
    )
    chart = concentration_chart(regimen)
    assert chart.svg.startswith("<svg")
    assert "ng/mL" in chart.svg and "time from the start of the session (h)" in chart.svg
    assert "analgesic" in chart.svg and "dissociative" in chart.svg
    assert "Domino" in chart.caption and "Zanos 2018" in chart.caption
    assert "anaesthesia" in chart.caption  # the toxic band is off the chart and said so


def test_delivered_overlay_and_data_uri():
    planned = regimen_from_steps(
        "lidocaine", {"weight_kg": 80}, [{"start_min": 0, "duration_min": 60, "rate_mg_per_h": 400}]
    )
    delivered = regimen_from_steps(
        "lidocaine", {"weight_kg": 80}, [{"start_min": 0, "duration_min": 45, "rate_mg_per_h": 400}]
    )
    svg = concentration_svg(planned, delivered)
    assert "predicted from what was delivered" in svg and "mcg/mL" in svg
    uri = svg_data_uri(svg)
    assert base64.b64decode(uri.split(",", 1)[1]).decode() == svg
