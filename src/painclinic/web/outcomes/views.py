"""Outcome pages: thin views over services.py and dashboard.py."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.services import Action, audit
from painclinic.web.lib import policies
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.lib.service import Refused
from painclinic.web.lib.spreadsheet import inert_row
from painclinic.web.outcomes import charts, dashboard
from painclinic.web.outcomes.forms import DecisionForm
from painclinic.web.outcomes.models import Decision
from painclinic.web.outcomes.roles import ROLES
from painclinic.web.outcomes.services import (
    OUTCOME_CATEGORY,
    PatientOutcome,
    do_decide_recommendation,
    patient_outcome,
)
from painclinic.web.patients.access import get_patient_for

MEASURES = (
    ("nrs", "Pain intensity (NRS, 0-10)", 10.0),
    ("bpi_interference", "Pain interference (BPI, mean of 7 items, 0-10)", 10.0),
    ("phq9", "Depression (PHQ-9 total, 0-27)", 27.0),
)


def _charts(outcome: PatientOutcome) -> list[dict[str, Any]]:
    out = []
    tracks = [v.track for v in outcome.tracks]
    infusion_days = sorted({d for t in tracks for d in (t.infusion_days or t.booked_days)})
    booster_days = sorted(
        {d for t in tracks if t.kind == "booster" for d in (t.infusion_days or t.booked_days)}
    )
    for attr, title, maximum in MEASURES:
        points, baselines = [], []
        for t in tracks:
            base = getattr(t.baseline, attr) if t.baseline else None
            mine = [(s.on, getattr(s, attr)) for s in t.after if getattr(s, attr) is not None]
            if base is not None:
                points.append((t.baseline.on, base))  # type: ignore[union-attr]
                end = max([d for d, _ in mine] + [t.last_day or t.baseline.on])  # type: ignore[union-attr]
                baselines.append(charts.Segment(t.baseline.on, end, base))  # type: ignore[union-attr]
            points.extend(mine)
        points.sort()
        if not points:
            continue
        out.append(
            {
                "title": title,
                "svg": charts.trajectory_svg(
                    title, maximum, points, baselines, infusion_days, booster_days
                ),
                "table": charts.values_table(points),
            }
        )
    return out


@allow_roles(ROLES.view_patient_outcomes)
@require_http_methods(["GET", "HEAD", "POST"])
def patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A patient's trajectory, responder status, relief and next step (decided by POST)."""
    actor = actor_of(request)
    record = get_patient_for(actor, patient_id, category=OUTCOME_CATEGORY)
    form = DecisionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            decided = do_decide_recommendation(
                actor,
                record.pk,
                form.cleaned_data["basis"],
                form.cleaned_data["decision"],
                form.cleaned_data["reason"],
            )
        except Refused as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if decided.decision == Decision.ACCEPTED and decided.protocol_id:
                messages.success(
                    request, "Recommendation accepted: plan the treatment with the protocol below."
                )
                url = reverse("treatments:plan_new", kwargs={"patient_id": record.pk})
                return redirect(f"{url}?{urlencode({'protocol_id': decided.protocol_id})}")
            messages.success(request, f"Recommendation {decided.get_decision_display().lower()}.")
            return redirect("outcomes:patient", patient_id=record.pk)
    library = policies.protocols()
    outcome = patient_outcome(record, library)
    titles = {k: p.title for k, p in library.protocols.items()}
    context = {
        "patient": record,
        "outcome": outcome,
        "charts": _charts(outcome),
        "form": form,
        "can_decide": acting_user(request).role in ROLES.decide_recommendation,
        "protocol_title": titles.get(outcome.protocol_id, ""),
    }
    return render(request, "outcomes/patient.html", context, status=400 if form.errors else 200)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f}%"


def _rate_note(rate: dashboard.Rate) -> str:
    if not rate.trials:
        return "not assessed yet"
    lo, hi = rate.interval or (0.0, 0.0)
    return f"{rate.successes}/{rate.trials} ({_percent(lo)}-{_percent(hi)})"


@allow_roles(ROLES.view_dashboard)
@require_safe
def dashboard_page(request: HttpRequest) -> HttpResponse:
    board, _ = dashboard.current(clinic_today())
    rows = []
    for r in board.responders:
        for weeks, rate in (("4 weeks", r.week_4), ("12 weeks", r.week_12)):
            if rate.trials:
                rows.append(
                    (
                        f"{weeks} · {r.condition} · {r.protocol}",
                        rate.proportion,
                        rate.interval,
                        _rate_note(rate),
                    )
                )
    completion = [
        (c.label, c.completed / c.due if c.due else None, None, f"{c.completed}/{c.due}")
        for c in board.completion
    ]
    context = {
        "board": board,
        "responder_chart": charts.rate_bars_svg(
            "Responders at 4 and 12 weeks, with 95% confidence intervals", rows
        ),
        "completion_chart": charts.rate_bars_svg("Follow-up completion by time point", completion),
    }
    return render(request, "outcomes/dashboard.html", context)


SUPPRESSED = "<5"


def export_rows(board: dashboard.Dashboard) -> list[list[Any]]:
    """The dashboard as CSV rows; every figure of a cell of fewer than 5 patients is "<5"."""

    def small(patients: int) -> bool:
        return patients < dashboard.SMALL_CELL

    def pct(value: float | None) -> str:
        return "" if value is None else f"{100 * value:.1f}"

    rows: list[list[Any]] = [
        [
            "section", "condition", "protocol", "measure", "count", "of", "percent",
            "ci95_low_percent", "ci95_high_percent", "patients",
        ]
    ]  # fmt: skip
    for r in board.responders:
        for label, rate in (
            ("responders at 4 weeks", r.week_4),
            ("responders at 12 weeks", r.week_12),
        ):
            if not rate.trials:
                continue
            if small(rate.patients):
                figures: list[Any] = [SUPPRESSED] * 6
            else:
                lo, hi = rate.interval or (None, None)
                figures = [
                    rate.successes, rate.trials, pct(rate.proportion), pct(lo), pct(hi),
                    rate.patients,
                ]  # fmt: skip
            rows.append(["responder rate", r.condition, r.protocol, label, *figures])
    for loss in board.loss:
        if small(loss.patients):
            figures = [SUPPRESSED] * 6
        else:
            median = "" if loss.median_days is None else f"{loss.median_days:g}"
            figures = [loss.lost, loss.responders, median, "", "", loss.patients]
        rows.append(
            ["loss of response", "", loss.protocol,
             "lost / responders; median days to loss after the series", *figures]
        )  # fmt: skip
    for ae in board.adverse:
        if small(ae.patients):
            figures = [SUPPRESSED] * 6
        else:
            figures = [ae.events, board.sessions, f"{ae.per_100:.2f}", "", "", ae.patients]
        rows.append(
            ["adverse events per 100 infusions", "", "", f"{ae.event_type} ({ae.severity})",
             *figures]
        )  # fmt: skip
    for c in board.completion:
        if small(c.patients):
            figures = [SUPPRESSED] * 6
        else:
            percent = "" if c.percent is None else f"{c.percent:.1f}"
            figures = [c.completed, c.due, percent, "", "", c.patients]
        rows.append(["follow-up completion", "", "", c.label, *figures])
    return [inert_row(row) for row in rows]


@allow_roles(ROLES.view_dashboard)
@require_safe
def export_csv(request: HttpRequest) -> HttpResponse:
    board = dashboard.build(clinic_today())  # an export is always computed afresh
    audit(
        actor_of(request),
        category=OUTCOME_CATEGORY,
        action=Action.EXPORT,
        detail={"export": "outcome dashboard", "small_cells_suppressed_below": 5},
    )
    buffer = io.StringIO()
    csv.writer(buffer).writerows(export_rows(board))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="outcomes.csv"'
    return response
