"""Outcomes per patient and the clinic's dashboard (issue 12, items 5 and 6)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from scipy.stats import binomtest

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.outcomes import dashboard
from painclinic.web.outcomes.models import PlanOutcome, RecommendationDecision
from painclinic.web.outcomes.stats import wilson_interval
from painclinic.web.outcomes.views import export_rows
from tests.conftest import logged_in_client, make_patient
from tests.web.followup.factories import series
from tests.web.outcomes.factories import answer, treated

P, N, F, B, A = Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN
URL_MATRIX = {
    "outcomes:dashboard": {P, A},
    "outcomes:export": {P, A},
    "outcomes:patient": {P, N},
}
DAYS = [dt.date(2026, 9, 1), dt.date(2026, 9, 2)]


# --- Wilson interval against scipy ------------------------------------------------------------


def test_wilson_interval_matches_scipy_to_1e_12():
    cases = [(k, n) for n in range(1, 41) for k in range(n + 1)]
    cases += [(0, 1000), (1, 1000), (503, 1000), (999, 1000), (1000, 1000), (7, 12345)]
    for k, n in cases:
        ours = wilson_interval(k, n)
        ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert ours is not None
        assert abs(ours[0] - ref.low) <= 1e-12, (k, n)
        assert abs(ours[1] - ref.high) <= 1e-12, (k, n)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


# --- from follow-up answers to the recommendation card -----------------------------------------


@pytest.fixture
def ada(users):
    return make_patient()


def page(client, patient):
    return client.get(reverse("outcomes:patient", kwargs={"patient_id": patient.pk}))


def test_a_responder_whose_relief_wore_off_gets_a_booster_card_and_accepting_plans_it(ada, users):
    plan = treated(ada, users[P], DAYS)  # 2 x 4 h at 25 mg/h = 200 mg
    nurse = users[N]
    answer(nurse, plan, "baseline", 8, None)
    for key in ("end_of_series", "week_1", "week_2", "week_4"):
        answer(nurse, plan, key, 3, 2)
    summary = PlanOutcome.objects.get(plan=plan)
    assert summary.responder_week_4 is True and summary.responded
    doctor = logged_in_client(users[P])
    body = page(doctor, ada).content.decode()
    assert "Relief continues" in body and "Responder" in body
    assert 'value="accepted"' not in body  # nothing to decide while relief lasts
    answer(nurse, plan, "week_8", 8, 4)  # relief lost 56 days after the series
    summary.refresh_from_db()
    assert summary.relief_lost_day == 56
    response = page(doctor, ada)
    body = response.content.decode()
    assert "Ketamine booster" in body
    assert "Relief from day 0 to day 56 after the series: 56 days." in body
    basis = response.context["outcome"].basis
    posted = doctor.post(
        reverse("outcomes:patient", kwargs={"patient_id": ada.pk}),
        {"basis": basis, "decision": "accepted"},
    )
    assert posted.status_code == 302
    plan_new = reverse("treatments:plan_new", kwargs={"patient_id": ada.pk})
    assert posted["Location"] == f"{plan_new}?protocol_id=ket-crps-outpatient"
    decision = RecommendationDecision.objects.get(patient=ada)
    assert (decision.recommendation, decision.decision) == ("ketamine_booster", "accepted")
    assert AuditEvent.objects.filter(patient=ada, detail__event="recommendation accepted").exists()
    body = page(doctor, ada).content.decode()
    assert "Accepted</strong> by" in body and 'value="accepted"' not in body
    # The plan started after the accepted booster is that booster, marked on the page.
    booster = treated(ada, users[P], [dt.date(2026, 11, 2)])
    answer(nurse, booster, "baseline", 7, None)
    response = page(doctor, ada)
    tracks = response.context["outcome"].tracks
    assert [t.track.kind for t in tracks] == ["trial", "booster"]
    assert response.context["outcome"].history["trials"][1]["kind"] == "booster"
    assert "(booster)" in response.content.decode()
    assert 'class="booster"' in response.content.decode()  # marked on the charts


def test_a_non_responder_after_an_adequate_ketamine_trial_is_offered_lidocaine(ada, users):
    plan = treated(ada, users[P], DAYS)
    nurse = users[N]
    answer(nurse, plan, "baseline", 8, None)
    for key, nrs in (("end_of_series", 7), ("week_1", 7), ("week_2", 8), ("week_4", 8)):
        answer(nurse, plan, key, nrs, 4)
    assert PlanOutcome.objects.get(plan=plan).responder_week_4 is False
    doctor = logged_in_client(users[P])
    response = page(doctor, ada)
    body = response.content.decode()
    assert "Offer a lidocaine trial" in body and "No response" in body
    url = reverse("outcomes:patient", kwargs={"patient_id": ada.pk})
    basis = response.context["outcome"].basis
    refused = doctor.post(url, {"basis": basis, "decision": "dismissed", "reason": "  "})
    assert refused.status_code == 400
    assert "Give the reason for dismissing" in refused.content.decode()
    assert not RecommendationDecision.objects.exists()
    done = doctor.post(
        url, {"basis": basis, "decision": "dismissed", "reason": "Prefers to wait a month"}
    )
    assert done.status_code == 302 and done["Location"] == url
    decision = RecommendationDecision.objects.get(patient=ada)
    assert decision.recommendation == "lidocaine_trial" and decision.protocol_id == ""
    assert AuditEvent.objects.filter(
        patient=ada, detail__event="recommendation dismissed",
        detail__reason="Prefers to wait a month",
    ).exists()  # fmt: skip
    body = page(doctor, ada).content.decode()
    assert "Dismissed</strong>" in body and "Prefers to wait a month" in body
    # A second decision on the same card is refused.
    again = doctor.post(url, {"basis": basis, "decision": "accepted"})
    assert again.status_code == 400 and RecommendationDecision.objects.count() == 1


def test_an_inadequate_ketamine_trial_is_repeated_not_followed_by_lidocaine(ada, users):
    # 2 x 1 h at 25 mg/h = 50 mg: below the 80 mg over more than 2 h of an adequate trial.
    plan = treated(ada, users[P], DAYS, hours=1)
    nurse = users[N]
    answer(nurse, plan, "baseline", 8, None)
    for key in ("end_of_series", "week_1"):
        answer(nurse, plan, key, 8, 4)
    body = page(logged_in_client(users[P]), ada).content.decode()
    assert "Repeat the ketamine trial" in body


def test_the_outcome_page_read_is_audited_and_a_nurse_cannot_decide(ada, users):
    treated(ada, users[P], DAYS)
    nurse = logged_in_client(users[N])
    response = page(nurse, ada)
    assert response.status_code == 200
    assert AuditEvent.objects.filter(patient=ada, action="view").exists()
    posted = nurse.post(
        reverse("outcomes:patient", kwargs={"patient_id": ada.pk}),
        {"basis": response.context["outcome"].basis, "decision": "accepted"},
    )
    assert posted.status_code == 403


@pytest.mark.parametrize("role", [F, B])
def test_front_desk_and_billing_get_403(ada, users, role):
    client = logged_in_client(users[role])
    for url in (
        reverse("outcomes:dashboard"),
        reverse("outcomes:export"),
        reverse("outcomes:patient", kwargs={"patient_id": ada.pk}),
    ):
        assert client.get(url).status_code == 403, url


# --- dashboard ----------------------------------------------------------------------------


def outcomes_for(patients, users, *, protocol_id="ket-crps-outpatient", condition="crps_1"):
    for index, patient in enumerate(patients):
        plan = series(patient, users[P], DAYS)
        PlanOutcome.objects.create(
            plan=plan, patient=patient, drug="ketamine", protocol_id=protocol_id,
            condition=condition, baseline_nrs=8, responder_week_4=index % 2 == 0,
            responder_week_12=index % 3 == 0, responded=index % 2 == 0,
            relief_lost_day=56 if index % 4 == 0 else None, refreshed_at=timezone.now(),
        )  # fmt: skip


def dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("outcomes:dashboard")).status_code == 200
    return len(captured)


def test_the_dashboard_query_count_does_not_grow_with_the_patients(users):
    client = logged_in_client(users[P])
    outcomes_for([make_patient(family="One")], users)
    one = dashboard_queries(client)
    outcomes_for([make_patient(family=f"P{i}") for i in range(19)], users, condition="phn")
    assert dashboard_queries(client) == one


def test_the_dashboard_shows_rates_with_wilson_intervals(users):
    outcomes_for([make_patient(family=f"P{i}") for i in range(6)], users)
    body = logged_in_client(users[A]).get(reverse("outcomes:dashboard")).content.decode()
    lo, hi = wilson_interval(3, 6)  # type: ignore[misc]
    assert "3/6 (50%)" in body
    assert f"{round(lo * 100)}–{round(hi * 100)}%" in body


def test_the_export_suppresses_cells_of_fewer_than_5_patients_and_neutralises_formulas(users):
    outcomes_for([make_patient(family=f"Four{i}") for i in range(4)], users, condition="phn")
    outcomes_for([make_patient(family=f"Five{i}") for i in range(5)], users, condition="pdn")
    outcomes_for(
        [make_patient(family=f"Evil{i}") for i in range(5)], users,
        protocol_id='=HYPERLINK("http://x")', condition="fibromyalgia",
    )  # fmt: skip
    response = logged_in_client(users[A]).get(reverse("outcomes:export"))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = rows[0]
    by = {
        (r[1], r[3]): dict(zip(header, r, strict=True))
        for r in rows[1:]
        if r[0] == "responder rate"
    }
    four = by[("Postherpetic neuralgia", "responders at 4 weeks")]
    assert four["count"] == four["of"] == four["percent"] == four["patients"] == "<5"
    five = by[("Painful diabetic neuropathy", "responders at 4 weeks")]
    assert (five["count"], five["of"], five["patients"]) == ("3", "5", "5")
    assert five["percent"] == "60.0"
    evil = by[("Fibromyalgia", "responders at 4 weeks")]
    assert evil["protocol"] == '\'=HYPERLINK("http://x")'
    assert AuditEvent.objects.filter(action="export", detail__export="outcome dashboard").exists()


def test_export_rows_suppress_small_adverse_event_and_completion_cells():
    board = dashboard.Dashboard(
        adverse=[dashboard.AdverseRow("Hypertension", "Mild", 3, 4, 1.5)],
        sessions=200,
        completion=[dashboard.CompletionRow("4 weeks after the series", 9, 10, 10)],
    )
    rows = export_rows(board)
    assert rows[1][4:] == ["<5"] * 6
    assert rows[2][4:7] == [9, 10, "90.0"]
