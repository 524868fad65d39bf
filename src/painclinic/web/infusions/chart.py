"""What the chart page shows, computed from the session's rows in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.core.cache import cache
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from painclinic.pharmacology import simulate
from painclinic.pharmacology.thresholds import BANDS
from painclinic.web.infusions import policy
from painclinic.web.infusions.models import (
    AdverseEvent,
    Alert,
    BagPreparation,
    DoubleCheck,
    InfusionSession,
    Observation,
    RateSegment,
    SessionEvent,
    SessionStatus,
)
from painclinic.web.infusions.rules import (
    cadence_for,
    delivered_mg,
    dosing_weight_kg,
    fmt,
    infusing_seconds,
    is_late,
    monitoring_thresholds,
    plan_steps,
    protocol_for,
)
from painclinic.web.lib.clinicdate import age_in_years
from painclinic.web.lib.rowreads import rows_in, rows_where


@dataclass
class DueObservation:
    due_at: dt.datetime
    minute: int
    state: str  # done | due | overdue | upcoming | missed (none taken before the stop)
    observation: Observation | None = None


@dataclass
class Banner:
    patient: Any
    age: int
    drug: str
    protocol: str
    session_number: int
    session_count: int
    dosing_weight: str
    plan_weight: str
    plan_weighed_on: dt.date | None
    status: str
    status_label: str
    chair: str
    booking_starts_at: dt.datetime


@dataclass
class Chart:
    session: InfusionSession
    banner: Banner
    segments: list[RateSegment]
    observations: list[Observation]
    alerts: list[Alert]
    open_alerts: list[Alert]
    adverse_events: list[AdverseEvent]
    preparations: list[BagPreparation]
    events: list[SessionEvent]
    schedule: list[DueObservation]
    delivered_mg: Decimal
    planned_mg: Decimal
    running_segment: RateSegment | None
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    infusing_min: float
    elapsed_min: float
    steps: list[dict[str, Any]]
    extras: dict[str, Any] = field(default_factory=dict)


def session_count(session: InfusionSession) -> int:
    """How many sessions the plan has (``get_session_for`` reads it with the session)."""
    known = getattr(session, "plan_session_count", None)
    return int(known) if known is not None else session.plan.sessions.count()


def banner_for(session: InfusionSession, count: int | None = None) -> Banner:
    patient = session.patient
    protocol = protocol_for(session)
    plan_weight = session.plan.weight
    return Banner(
        patient=patient,
        age=age_in_years(patient.date_of_birth, timezone.localdate()),
        drug=session.plan.drug,
        protocol=protocol.title if protocol else session.plan.protocol_id,
        session_number=session.planned_session.number,
        session_count=count if count is not None else session_count(session),
        dosing_weight=fmt(dosing_weight_kg(session), "kg"),
        plan_weight=fmt(plan_weight.weight_kg, "kg"),
        plan_weighed_on=plan_weight.measured_on,
        status=session.status,
        status_label=session.get_status_display(),
        chair=str(session.booking.chair),
        booking_starts_at=session.booking.starts_at,
    )


def observation_schedule(
    session: InfusionSession,
    started_at: dt.datetime | None,
    observations: list[Observation],
    now: dt.datetime,
    end_at: dt.datetime | None,
) -> list[DueObservation]:
    """Due times from the start on the protocol's cadence; each done, due, overdue or upcoming.

    An observation counts for the earliest open due time it falls at or after (less the early
    window) and before the next due time. Overdue = past due + the clinic's grace minutes.
    """
    cadence = cadence_for(session)
    if cadence is None or started_at is None:
        return []
    minutes = cadence.times(float(session.planned_session.duration_min))
    due = [started_at + dt.timedelta(minutes=m) for m in minutes]
    early = dt.timedelta(minutes=policy.observation_early_min())
    grace = dt.timedelta(minutes=policy.observation_grace_min())
    rows: list[DueObservation] = []
    pool = sorted(observations, key=lambda o: o.observed_at)
    used: set[int] = set()
    for index, due_at in enumerate(due):
        until = due[index + 1] - early if index + 1 < len(due) else None
        match = next(
            (
                o
                for o in pool
                if o.pk not in used
                and o.observed_at >= due_at - early
                and (until is None or o.observed_at < until)
            ),
            None,
        )
        if match is not None:
            # A complete round in the window counts; an incomplete one alone does not.
            window = [
                o
                for o in pool
                if o.pk not in used
                and o.observed_at >= due_at - early
                and (until is None or o.observed_at < until)
            ]
            complete = next((o for o in window if o.action != "incomplete"), None)
            used.add((complete or match).pk)
            state = "done" if complete is not None else "incomplete"
            rows.append(DueObservation(due_at, int(minutes[index]), state, complete or match))
            continue
        if end_at is not None and due_at > end_at:
            continue  # the infusion ended before this was due
        if end_at is not None and due_at <= end_at:
            state = "missed"  # the infusion ended without it: it can no longer be taken
        elif now > due_at + grace:
            state = "overdue"
        elif now >= due_at - early:
            state = "due"
        else:
            state = "upcoming"
        rows.append(DueObservation(due_at, int(minutes[index]), state))
    return rows


def _regimen(
    session: InfusionSession, doses: list[dict[str, Any]], stop_h: float
) -> dict[str, Any]:
    patient = session.patient
    info: dict[str, Any] = {
        "weight_kg": float(dosing_weight_kg(session)),
        "age_years": age_in_years(patient.date_of_birth, timezone.localdate()),
    }
    if patient.sex_at_birth in ("female", "male"):
        info["sex"] = patient.sex_at_birth
    weight = session.plan.weight
    if weight.height_cm:
        info["height_cm"] = float(weight.height_cm)
    return {
        "drug": session.plan.drug,
        "patient": info,
        "doses": doses,
        "times_h": {"start": 0, "stop": stop_h, "step": stop_h / 240},
    }


def concentration_svg(
    session: InfusionSession,
    steps: list[dict[str, Any]],
    segments: list[RateSegment],
    now: dt.datetime,
) -> str | None:
    """Predicted plasma concentration of the plan (dashed) and of what was delivered (solid),
    with the drug's concentration bands, as SVG text (None when there is nothing to plot)."""
    drug = session.plan.drug
    planned: list[dict[str, float | str]] = [
        {
            "route": "iv_infusion",
            "time_h": float(s["start_min"]) / 60,
            "rate_mg_per_h": float(s["rate_mg_per_h"]),
            "duration_h": float(s["duration_min"]) / 60,
        }
        for s in steps
        if float(s.get("rate_mg_per_h") or 0) > 0
    ]
    if not planned:
        return None
    start = segments[0].started_at if segments else None
    delivered: list[dict[str, float | str]] = []
    for seg in segments:
        if start is None:
            break
        end = seg.ended_at or now
        hours = (end - seg.started_at).total_seconds() / 3600
        if hours <= 0 or seg.rate_mg_per_h <= 0:
            continue
        delivered.append(
            {
                "route": "iv_infusion",
                "time_h": (seg.started_at - start).total_seconds() / 3600,
                "rate_mg_per_h": float(seg.rate_mg_per_h),
                "duration_h": hours,
            }
        )
    plan_end_h = max(float(d["time_h"]) + float(d["duration_h"]) for d in planned)
    last_h = max((float(d["time_h"]) + float(d["duration_h"]) for d in delivered), default=0.0)
    stop_h = max(plan_end_h, last_h) + 1.0
    try:
        plan_sim = simulate(_regimen(session, planned, stop_h))
        given_sim = simulate(_regimen(session, delivered, stop_h)) if delivered else None
    except ValueError:
        return None
    scale, unit = (1000.0, "ng/mL") if drug == "ketamine" else (1.0, "mcg/mL")
    plan_y = [float(v) * scale for v in plan_sim.plasma_mg_per_l]
    times = [float(t) for t in plan_sim.times_h]
    given_y = [float(v) * scale for v in given_sim.plasma_mg_per_l] if given_sim else []
    if given_sim is not None and start is not None:
        # Only up to the last recorded instant: the future of what was given is not known.
        cutoff = max(last_h, 0.0)
        given_y = [
            y if t <= cutoff + 1e-9 else float("nan") for t, y in zip(times, given_y, strict=True)
        ]
    bands = BANDS.get(drug, ())
    y_max = max([*plan_y, *[y for y in given_y if y == y], 0.0]) * 1.15
    visible = [b for b in bands if b.lower_mg_per_l * scale < max(y_max, 1e-9) * 1.5]
    for band in visible:
        top = band.upper_mg_per_l or band.lower_mg_per_l
        y_max = max(y_max, min(top * scale, y_max * 1.6))
    y_max = y_max or 1.0
    step = nice_step(y_max / 4)
    y_max = math.ceil(y_max / step - 1e-9) * step
    width, height, left, right, top_pad, bottom = 1000, 340, 70, 20, 20, 50
    plot_w, plot_h = width - left - right, height - top_pad - bottom

    def x(t: float) -> float:
        return left + t / stop_h * plot_w

    def y(v: float) -> float:
        return top_pad + plot_h - min(v, y_max) / y_max * plot_h

    def path(values: list[float]) -> str:
        parts: list[str] = []
        pen = "M"
        for t, v in zip(times, values, strict=True):
            if v != v:  # NaN: lift the pen
                pen = "M"
                continue
            parts.append(f"{pen}{x(t):.1f},{y(v):.1f}")
            pen = "L"
        return " ".join(parts)

    colours = {"analgesic": "#d8f0dd", "dissociative": "#fff1c2", "toxic": "#fbd5d2"}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="15">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    labels: list[str] = []
    for band in visible:
        low = band.lower_mg_per_l * scale
        high = (band.upper_mg_per_l or band.lower_mg_per_l * 2) * scale
        y1, y2 = y(high), y(low)
        out.append(
            f'<rect x="{left}" y="{y1:.1f}" width="{plot_w}" height="{max(y2 - y1, 1):.1f}" '
            f'fill="{colours.get(band.kind, "#eee")}" opacity="0.75"/>'
        )
        # Top-left inside the band: clear of the curves, which start low and rise later.
        labels.append(
            f'<text x="{left + 8}" y="{max(y1 + 17, top_pad + 14):.1f}" '
            f'fill="#333">{escape(band.label)}</text>'
        )
    value = 0.0
    while value <= y_max + 1e-9:
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#ccd" stroke-width="1"/>'
            f'<text x="{left - 8}" y="{y(value) + 5:.1f}" text-anchor="end">{value:g}</text>'
        )
        value += step
    out.extend(labels)
    hour = 0
    while hour <= stop_h:
        out.append(
            f'<text x="{x(hour):.1f}" y="{height - 24}" text-anchor="middle">{hour} h</text>'
        )
        hour += 1
    out.append(
        f'<line x1="{left}" x2="{left}" y1="{top_pad}" y2="{top_pad + plot_h}" stroke="#333"/>'
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top_pad + plot_h}" '
        f'y2="{top_pad + plot_h}" stroke="#333"/>'
    )
    out.append(
        f'<path d="{path(plan_y)}" fill="none" stroke="#5b6675" stroke-width="3" '
        f'stroke-dasharray="10 7"/>'
    )
    if given_y:
        out.append(f'<path d="{path(given_y)}" fill="none" stroke="#0b5cad" stroke-width="4"/>')
    out.append(
        f'<text x="{left}" y="{height - 4}">Predicted plasma {escape(drug)} ({unit}) — '
        f"dashed: plan · solid: delivered ({escape(plan_sim.model)} model)</text>"
    )
    out.append("</svg>")
    return "".join(out)


def concentration_svg_for(session: InfusionSession, now: dt.datetime | None = None) -> str | None:
    """The chart's SVG, cached per session version (and per minute while it is running)."""
    now = now or timezone.now()
    running = session.status in (SessionStatus.RUNNING, SessionStatus.PAUSED)
    key = f"infusions:svg:{session.pk}:{session.version}:" + (
        now.strftime("%Y%m%d%H%M") if running else "final"
    )
    cached = cache.get(key)
    if cached is not None:
        return str(cached) or None
    segments = list(RateSegment.objects.filter(session=session).order_by("started_at", "id"))
    stopped = [s.ended_at for s in segments if s.ended_at is not None]
    until = max(stopped) if stopped and not running else now
    svg = concentration_svg(session, plan_steps(session), segments, until)
    cache.set(key, svg or "", 60 * 60)
    return svg


def nice_step(raw: float) -> float:
    """A tick step of 1, 2, 2.5 or 5 times a power of ten, at least ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _attach_double_checks(preparations: list[BagPreparation]) -> None:
    """Each preparation's double check (or none), cached on it as select_related would."""
    if not preparations:
        return
    checks = {d.preparation_id: d for d in rows_in(DoubleCheck, "preparation", preparations)}
    relation = BagPreparation._meta.get_field("double_check")
    for preparation in preparations:
        relation.set_cached_value(preparation, checks.get(preparation.pk))  # type: ignore[union-attr]


def build_chart(session: InfusionSession, now: dt.datetime | None = None) -> Chart:
    now = now or timezone.now()
    # The chart's own rows, each read without a compiled queryset (web/lib/rowreads.py).
    segments = rows_where(RateSegment, "session", session, order_by=("started_at", "id"))
    # ``decision`` (the rules engine's full evaluation, kept for the record) is not shown.
    observations = rows_where(
        Observation, "session", session, order_by=("observed_at", "id"), omit=("decision",)
    )
    # An alert hangs off an observation whose action was not "continue": none, no query.
    alerts = (
        list(
            Alert.objects.filter(session=session)
            .select_related("acknowledged_by", "observation")
            .order_by("raised_at", "id")
        )
        if any(o.action != "continue" for o in observations)
        else []
    )
    adverse = rows_where(AdverseEvent, "session", session, order_by=("occurred_at", "id"))
    preparations = rows_where(BagPreparation, "session", session, order_by=("prepared_at", "id"))
    _attach_double_checks(preparations)
    events = rows_where(SessionEvent, "session", session, order_by=("-version",), limit=30)
    started_at = segments[0].started_at if segments else None
    running = next((s for s in segments if s.ended_at is None), None)
    stopped = session.status in (
        SessionStatus.STOPPED,
        SessionStatus.DISCHARGED,
        SessionStatus.SIGNED,
    )
    stopped_at = (
        max((s.ended_at for s in segments if s.ended_at), default=None) if stopped else None
    )
    until = stopped_at or now
    steps = plan_steps(session)
    return Chart(
        session=session,
        banner=banner_for(session),
        segments=segments,
        observations=observations,
        alerts=alerts,
        open_alerts=[a for a in alerts if a.acknowledged_at is None],
        adverse_events=adverse,
        preparations=preparations,
        events=events,
        schedule=observation_schedule(session, started_at, observations, now, stopped_at),
        delivered_mg=delivered_mg(segments, until),
        planned_mg=Decimal(session.planned_session.total_mg),
        running_segment=running,
        started_at=started_at,
        stopped_at=stopped_at,
        infusing_min=infusing_seconds(segments, until) / 60,
        elapsed_min=(until - started_at).total_seconds() / 60 if started_at else 0.0,
        steps=steps,
    )


def _hm(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%H:%M")


def _cell(value: object) -> str:
    return "" if value is None else html.escape(str(value))


def late_text(occurred_at: dt.datetime, recorded_at: dt.datetime, name: str) -> str:
    """ "late entry, charted at HH:MM by X" for an entry charted late, else empty."""
    if not is_late(occurred_at, recorded_at):
        return ""
    return f"late entry, charted at {_hm(recorded_at)} by {name}"


def _late_mark(occurred_at: dt.datetime, recorded_at: dt.datetime, name: str) -> str:
    text = late_text(occurred_at, recorded_at, name)
    return f' <span class="inf-tag inf-late">{html.escape(text)}</span>' if text else ""


def observation_rows(observations: list[Observation], names: dict[int, str]) -> SafeString:
    """The observations table body, built once in Python: a chart holds dozens of rows, and
    a template loop (or format_html per row) was a large share of the page's time. Every text
    value is escaped with ``html.escape``."""
    thresholds = monitoring_thresholds()
    rows = [
        f'<tr class="{_obs_class(o)}">'
        f"<td>{_hm(o.observed_at)}"
        f"{_phase_mark(o)}"
        f"{_late_mark(o.observed_at, o.recorded_at, names.get(o.recorded_by_id, ''))}</td>"
        f"<td>{_vital(o.systolic_bp_mmhg)}/{_vital(o.diastolic_bp_mmhg)}</td>"
        f"<td>{_vital(o.heart_rate_bpm)}</td><td>{_vital(o.respiratory_rate_per_min)}</td>"
        f"<td>{_vital(o.spo2_percent)}{'%' if o.spo2_percent is not None else ''}</td>"
        f"<td>{_cell(o.rass)}</td><td>{_cell(o.moaas)}</td>"
        f"<td>{_cell(o.cadss6)}</td><td>{_cell(o.pain_nrs)}</td>"
        f"<td>{_cell(', '.join(thresholds.symptom_label(s) for s in o.symptoms or []))}</td>"
        f"<td>{_result(o)}</td>"
        f"<td>{_cell(names.get(o.recorded_by_id, ''))}</td></tr>"
        for o in observations
    ]
    return mark_safe("".join(rows))  # noqa: S308  (every value above went through _cell)


VITAL_NAMES = (
    ("systolic_bp_mmhg", "systolic BP"),
    ("diastolic_bp_mmhg", "diastolic BP"),
    ("heart_rate_bpm", "heart rate"),
    ("respiratory_rate_per_min", "respiratory rate"),
    ("spo2_percent", "SpO2"),
)


def missing_vitals(o: Observation) -> list[str]:
    """The vital signs and sedation a round did not record, in words."""
    missing = [words for name, words in VITAL_NAMES if getattr(o, name) is None]
    if o.rass is None and o.moaas is None:
        missing.append("sedation (RASS or MOAA/S)")
    return missing


def _phase_mark(o: Observation) -> str:
    return ' <span class="inf-tag">recovery</span>' if o.phase == "recovery" else ""


def _obs_class(o: Observation) -> str:
    if o.action == "continue":
        return ""
    return "obs-incomplete" if o.action == "incomplete" else "obs-alert"


def _vital(value: Any) -> str:
    return '<strong class="inf-missing">not measured</strong>' if value is None else _cell(value)


def _result(o: Observation) -> str:
    text = _cell(o.action.replace("_", " "))
    missing = missing_vitals(o)
    if missing:
        text += f"<br><strong>record {_cell(', '.join(missing))}</strong>"
    return text


def schedule_items(schedule: list[DueObservation]) -> SafeString:
    """The due-observation list (one item per due time of the cadence), built in Python."""
    items = []
    for due in schedule:
        if due.state == "done" and due.observation is not None:
            state = f"done {_hm(due.observation.observed_at)}"
        elif due.state == "incomplete" and due.observation is not None:
            state = (
                f"incomplete {_hm(due.observation.observed_at)}: record "
                f"{html.escape(', '.join(missing_vitals(due.observation)))}"
            )
        else:
            state = html.escape(due.state)
        items.append(
            f'<li class="due-{html.escape(due.state)}"><span class="due-time">{_hm(due.due_at)}'
            f'</span> <span class="due-min">+{due.minute} min</span> '
            f'<span class="due-state">{state}</span></li>'
        )
    return mark_safe("".join(items))  # noqa: S308  (states are escaped; times are ours)


def event_items(events: list[SessionEvent], names: dict[int, str]) -> SafeString:
    """The charted events, newest first; one charted late says when and by whom."""
    return mark_safe(  # noqa: S308  (every value goes through _cell or html.escape)
        "".join(
            f'<li><span class="muted">{_hm(e.occurred_at)}</span> {_cell(e.summary)} '
            f'<span class="muted">· {_cell(names.get(e.recorded_by_id, ""))}</span>'
            f"{_late_mark(e.occurred_at, e.recorded_at, names.get(e.recorded_by_id, ''))}</li>"
            for e in events
        )
    )


def late_entries(events: list[SessionEvent], names: dict[int, str]) -> list[str]:
    """Each event charted late, oldest first: "observation 10:15 (late entry, charted at
    10:42 by X)"."""
    return [
        f"{e.kind.replace('_', ' ')} {_hm(e.occurred_at)} "
        f"({late_text(e.occurred_at, e.recorded_at, names.get(e.recorded_by_id, ''))})"
        for e in sorted(events, key=lambda e: (e.occurred_at, e.version))
        if is_late(e.occurred_at, e.recorded_at)
    ]


NAME_FIELDS = ("first_name", "last_name", "username")


def user_names(chart: Chart) -> dict[int, str]:
    """Display names of everyone on the chart, in one query."""
    from painclinic.web.accounts.models import User

    ids = {o.recorded_by_id for o in chart.observations} | {e.recorded_by_id for e in chart.events}
    ids |= {s.started_by_id for s in chart.segments}
    ids |= {p.prepared_by_id for p in chart.preparations}
    ids |= {
        p.double_check.checked_by_id
        for p in chart.preparations
        if getattr(p, "double_check", None) is not None
    }
    users = rows_in(User, "id", ids, only=NAME_FIELDS)
    return {u.pk: u.display_name for u in users}


def summary_text(chart: Chart, events: list[SessionEvent] | None = None) -> str:
    """The prefilled session summary (times in the clinic zone, doses ISMP-formatted), with the
    entries charted late among ``events`` (default: the chart's, its latest 30)."""
    b = chart.banner
    lines = [
        f"{b.drug.capitalize()} infusion, {b.protocol}, session {b.session_number} of "
        f"{b.session_count}. Dosing weight {b.dosing_weight}.",
    ]
    if chart.started_at:
        start = timezone.localtime(chart.started_at)
        end = timezone.localtime(chart.stopped_at) if chart.stopped_at else None
        lines.append(
            f"Started {start:%Y-%m-%d %H:%M}"
            + (f", stopped {end:%Y-%m-%d %H:%M}" if end else "")
            + f"; elapsed {chart.elapsed_min:.0f} min, infusing {chart.infusing_min:.0f} min."
        )
    lines.append(
        f"Delivered {fmt(chart.delivered_mg, 'mg')} (planned {fmt(chart.planned_mg, 'mg')})."
    )
    missed = [d for d in chart.schedule if d.state == "missed"]
    if missed:
        lines.append(
            f"Missed observations: {len(missed)} ("
            + ", ".join(f"+{d.minute} min" for d in missed)
            + ")."
        )
    rates = [
        f"{fmt(s.rate_mg_per_h, 'mg/h')} ({s.start_reason.replace('_', ' ')})"
        for s in chart.segments
    ]
    if rates:
        lines.append("Rates: " + ", ".join(rates) + ".")
    if chart.observations:
        obs = chart.observations

        def span(name: str) -> str:
            values = [getattr(o, name) for o in obs if getattr(o, name) is not None]
            return f"{min(values)}-{max(values)}" if values else "-"

        kinds = [
            f"{n} {what}"
            for n, what in (
                (sum(1 for o in obs if o.action == "incomplete"), "incomplete"),
                (sum(1 for o in obs if o.phase == "recovery"), "in recovery"),
            )
            if n
        ]
        lines.append(
            f"{len(obs)} observations"
            + (f" ({', '.join(kinds)})" if kinds else "")
            + f": SBP {span('systolic_bp_mmhg')} mmHg, "
            f"HR {span('heart_rate_bpm')}/min, RR {span('respiratory_rate_per_min')}/min, "
            f"SpO2 {span('spo2_percent')}%."
        )
    for alert in chart.alerts:
        lines.append(
            f"Alert {alert.action.replace('_', ' ')} at "
            f"{timezone.localtime(alert.observation.observed_at):%H:%M}: "
            + "; ".join(r.get("message", "") for r in alert.reasons)
            + (f". Action: {alert.action_taken}" if alert.action_taken else ". NOT acknowledged")
        )
    for event in chart.adverse_events:
        lines.append(
            f"Adverse event: {event.get_event_type_display()}, {event.get_severity_display()}, "
            f"{event.get_outcome_display()}" + (" (serious: 24-h report)" if event.serious else "")
        )
    if not chart.alerts and not chart.adverse_events:
        lines.append("No alerts and no adverse events.")
    events = chart.events if events is None else events
    if any(is_late(e.occurred_at, e.recorded_at) for e in events):
        from painclinic.web.accounts.models import User

        ids = {e.recorded_by_id for e in events}
        names = {u.pk: u.display_name for u in rows_in(User, "id", ids, only=NAME_FIELDS)}
        lines.append("Late entries: " + "; ".join(late_entries(events, names)) + ".")
    discharge = getattr(chart.session, "discharge", None)
    if discharge is not None:
        lines.append(
            f"Discharged {timezone.localtime(discharge.discharged_at):%H:%M} with "
            f"{discharge.escort_name}; modified Aldrete {discharge.aldrete_score}/10"
            + (
                f", modified PADSS {discharge.padss_score}/10."
                if discharge.padss_score is not None
                else "."
            )
        )
    return "\n".join(lines)
