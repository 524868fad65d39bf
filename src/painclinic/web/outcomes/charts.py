"""Server-side SVG charts of the outcome pages (hand-built: no script, no CDN).

Each chart has a ``<title>`` and ``<desc>`` for screen readers, and the page prints the same
numbers in a table beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

W, H = 480, 250
LEFT, RIGHT, TOP, BOTTOM = 34, 14, 12, 56


@dataclass(frozen=True)
class Segment:
    """A baseline: value from ``start`` to ``end``."""

    start: dt.date
    end: dt.date
    value: float


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def trajectory_svg(
    title: str,
    maximum: float,
    points: list[tuple[dt.date, float]],
    baselines: list[Segment],
    infusion_days: list[dt.date],
    booster_days: list[dt.date],
) -> SafeString:
    """A score over time (higher = worse) against its baselines, infusion days marked below
    the axis (filled squares; boosters as triangles)."""
    days = [d for d, _ in points] + infusion_days + [s.start for s in baselines]
    days += [s.end for s in baselines]
    if not days:
        return mark_safe("")
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(day: dt.date) -> float:
        return LEFT + plot_w * (day - first).days / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / maximum)

    out = [
        f'<svg class="outcome-chart" viewBox="0 0 {W} {H}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-labelledby="t-{id(points)}">',
        f'<title id="t-{id(points)}">{escape(title)}</title>',
        f"<desc>{escape(title)}: {len(points)} answer(s); dashed line: baseline before the "
        "series; squares under the axis: infusion days; triangles: boosters.</desc>",
    ]
    step = 2 if maximum <= 10 else 9 if maximum >= 27 else 5
    tick = 0.0
    while tick <= maximum + 1e-9:
        yy = y(tick)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
        tick += step
    axis_y = TOP + plot_h
    out.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{axis_y}" y2="{axis_y}"/>')
    labelled = sorted({first, last})
    for label_day in labelled:
        anchor = "start" if label_day == first else "end"
        out.append(
            f'<text class="tick" x="{x(label_day):.1f}" y="{H - 6}" text-anchor="{anchor}">'
            f"{label_day:%b} {label_day.day}, {label_day.year}</text>"
        )
    boosters = set(booster_days)
    for day in infusion_days:
        xx = x(day)
        if day in boosters:
            out.append(
                f'<path class="booster" d="M{xx - 6:.1f},{axis_y + 18} L{xx + 6:.1f},'
                f'{axis_y + 18} L{xx:.1f},{axis_y + 6} Z"><title>Booster {day.isoformat()}'
                "</title></path>"
            )
        else:
            out.append(
                f'<rect class="infusion" x="{xx - 4:.1f}" y="{axis_y + 7}" width="8" '
                f'height="8"><title>Infusion {day.isoformat()}</title></rect>'
            )
    for seg in baselines:
        out.append(
            f'<line class="baseline" x1="{x(seg.start):.1f}" x2="{x(seg.end):.1f}" '
            f'y1="{y(seg.value):.1f}" y2="{y(seg.value):.1f}"><title>Baseline '
            f"{_fmt(seg.value)}</title></line>"
        )
    if points:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(v):.1f}" for i, (d, v) in enumerate(points)
        )
        out.append(f'<path class="series" d="{path}"/>')
        for day, value in points:
            out.append(
                f'<circle class="point" cx="{x(day):.1f}" cy="{y(value):.1f}" r="4">'
                f"<title>{day.isoformat()}: {_fmt(value)}</title></circle>"
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped or a number


def values_table(points: Sequence[tuple[dt.date, float]]) -> SafeString:
    """The chart's numbers as a table (for reading aloud and for exact values)."""
    rows = "".join(
        f'<tr><td>{day.isoformat()}</td><td class="num">{_fmt(value)}</td></tr>'
        for day, value in points
    )
    return mark_safe(  # noqa: S308 - dates and numbers only
        '<table><thead><tr><th>Date</th><th class="num">Score</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def rate_bars_svg(
    title: str, rows: Sequence[tuple[str, float | None, tuple[float, float] | None, str]]
) -> SafeString:
    """Horizontal bars of proportions (0-100%) with their confidence intervals as whiskers,
    each label on its own line above its bar (long names stay whole on a phone).

    ``rows``: (label, proportion or None, (lower, upper) or None, text after the bar).
    """
    if not rows:
        return mark_safe("")
    left, bar_w, row_h = 8, 260, 50
    height = 30 + row_h * len(rows)
    width = left + bar_w + 140
    out = [
        f'<svg class="outcome-chart bars" viewBox="0 0 {width} {height}" role="img" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for pct in (0, 50, 100):
        xx = left + bar_w * pct / 100
        anchor = "start" if pct == 0 else "end" if pct == 100 else "middle"
        out.append(
            f'<line class="grid" x1="{xx:.1f}" x2="{xx:.1f}" y1="22" y2="{height}"/>'
            f'<text class="tick" x="{xx:.1f}" y="16" text-anchor="{anchor}">{pct}%</text>'
        )
    for i, (label, proportion, interval, note) in enumerate(rows):
        top = 26 + i * row_h
        short = label if len(label) <= 46 else label[:45] + "…"
        out.append(
            f'<text class="label" x="{left}" y="{top + 16}"><title>{escape(label)}</title>'
            f"{escape(short)}</text>"
        )
        bar_top = top + 24
        if proportion is not None:
            out.append(
                f'<rect class="bar" x="{left}" y="{bar_top}" height="18" '
                f'width="{bar_w * proportion:.1f}"/>'
            )
        if interval is not None:
            lo, hi = (left + bar_w * v for v in interval)
            mid = bar_top + 9
            out.append(
                f'<path class="ci" d="M{lo:.1f},{mid} L{hi:.1f},{mid} M{lo:.1f},{mid - 7} '
                f'L{lo:.1f},{mid + 7} M{hi:.1f},{mid - 7} L{hi:.1f},{mid + 7}"/>'
            )
        out.append(
            f'<text class="note" x="{left + bar_w + 10}" y="{bar_top + 15}">{escape(note)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped or a number
