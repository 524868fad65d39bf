"""Each staff role's home page: where they land, what it counts, and that it stays cheap.

The counts are checked against data made for them (a plan waiting for a co-signature, an open
missing-information item, a billable session...); the query count is checked to be the same
for a small and a larger clinic; the page shows no internal code.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.assessments.models import Assessment, ChecklistItem, EligibilityDecision
from painclinic.web.infusions.models import Observation, RateSegment, SessionStatus
from painclinic.web.lib.clinictime import local_today
from painclinic.web.treatments.models import PlanStatus, TreatmentPlan
from painclinic.web.worklist import homes
from painclinic.web.worklist.models import Task
from tests.conftest import make_patient, make_user
from tests.web.billing.factories import signed_sessions
from tests.web.scheduling.factories import make_booking, make_chair, make_plan, make_session

pytestmark = pytest.mark.django_db

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)
STAFF = {P, N, F, B, A}
# Read by tests/web/test_access_matrix.py.
URL_MATRIX = {
    "worklist:today": STAFF,
    "scheduling:board_grid": {P, N, F, A},
}
# Words a person must never read on a home page: enum values, protocol ids, rule ids.
INTERNAL = re.compile(
    r"awaiting_cosign|soft_limit|eligible_with_cautions|not_eligible|checklist_done|"
    r"ket-crps|crps-outpatient|followup_answers|\bsae\b|\[U\]|\[S\d?\]|rule_id|RULE-",
)


@pytest.fixture(autouse=True)
def _no_badge_left_from_another_test():
    """The billing and admin badges live in the cache, keyed by user id (ids repeat)."""
    cache.clear()


def text_of(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def sections(response) -> dict[str, int]:
    return {s.key: s.count for s in response.context["sections"]}


def decision(patient, physician, *, cosign_required=False, at=None) -> EligibilityDecision:
    return EligibilityDecision.objects.create(
        patient=patient,
        drug="ketamine",
        condition="crps",
        facts={},
        engine_result={},
        engine_status="eligible_with_cautions",
        physician_decision="override" if cosign_required else "accept",
        final_status="eligible",
        decided_by=physician,
        decided_at=at or timezone.now(),
        cosign_required=cosign_required,
    )


def criteria(patient, physician, at) -> Assessment:
    return Assessment.objects.create(
        patient=patient,
        instrument="budapest",
        answers={},
        result={},
        completed_by=physician,
        completed_at=at,
    )


def clinic(users, n: int, tag: str = "") -> dict[str, int]:
    """``n`` patients, each with one of everything a home page lists; returns what to expect."""
    other = make_user(Role.PHYSICIAN, f"second-physician{tag}")
    physician, desk = users[P], users[F]
    now = timezone.now()
    for i in range(n):
        patient = make_patient("Case", f"Home{tag}{i}")
        # A plan above a soft dose limit, prescribed by another physician: to co-sign.
        make_plan(patient, other, sessions=2, status=PlanStatus.AWAITING_COSIGN)
        # An override of a contraindication by the other physician: to co-sign.
        decision(patient, other, cosign_required=True, at=now - dt.timedelta(days=3))
        # An open missing-information item on that decision.
        ChecklistItem.objects.create(
            patient=patient,
            # The engine appends its rule's condition in brackets: not for a reader.
            text="Obtain the last ECG (cardiac_risk_factors and no ECG)",
            rule_id="RULE-ECG",
            drug="ketamine",
            source_decision=EligibilityDecision.objects.filter(patient=patient).first(),
            created_at=now,
        )
        # Criteria recorded after the last decision: a decision to make.
        criteria(patient, physician, now - dt.timedelta(days=1))
        # An active plan of 5 sessions with consent for 3: series to book and consent missing.
        # (Lidocaine: a consent is per drug and protocol, and the ketamine plans have theirs.)
        make_plan(patient, physician, sessions=5, consent_sessions=3, drug="lidocaine")
        # Two signed sessions of a third plan not invoiced (the factory books them in the past).
        signed_sessions(patient, physician, desk, count=2)
        Task.objects.create(
            patient=patient,
            kind="followup_answers",
            urgency="soon",
            priority=1,
            summary="Pain up by 4 points since the baseline",
            source_type="test",
            source_id=i + 1,
            raised_at=now,
            raised_by=physician,
        )
    return {
        "cosign": 2 * n,
        "decide": n,
        "checklist": n,
        "tasks": n,
        # The 5/3 plan, and the signed-sessions plan (5 sessions consented, 2 booked).
        "series": 2 * n,
        # The co-sign plans are not active; the signed-sessions plan is fully consented.
        "consents": n,
        "invoice": 2 * n,
    }


@pytest.mark.parametrize("role", sorted(STAFF), ids=str)
def test_each_staff_role_lands_on_its_home_and_search_is_one_click_away(role, client_for):
    client = client_for(role)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("worklist:today")
    page = client.get(reverse("worklist:today"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'action="{reverse("patients:search")}"' in html  # the search box on the home
    assert f'href="{reverse("worklist:today")}"' in html  # "Today" in the top bar


def test_a_patient_still_lands_on_the_portal(client_for):
    response = client_for(T).get("/")
    assert response["Location"] == reverse("portal:home")


def test_the_physician_home_counts_equal_the_data(users, client_for):
    expected = clinic(users, 3)
    response = client_for(P).get(reverse("worklist:today"))
    got = sections(response)
    for key in ("cosign", "decide", "checklist", "tasks"):
        assert got[key] == expected[key], key
    page = text_of(response.content.decode())
    assert "Home0" in page and "Obtain the last ECG" in page
    assert "cardiac_risk_factors" not in page
    first = (
        TreatmentPlan.objects.filter(status=PlanStatus.AWAITING_COSIGN)
        .order_by("prescribed_at", "id")
        .first()
    )
    assert reverse("treatments:plan_cosign", args=[first.pk]) in response.content.decode()
    assert not INTERNAL.search(page), INTERNAL.search(page)


def test_a_physician_is_not_asked_to_cosign_their_own_plan(users, client_for):
    patient = make_patient("Own", "Plan")
    make_plan(patient, users[P], sessions=2, status=PlanStatus.AWAITING_COSIGN)
    assert sections(client_for(P).get(reverse("worklist:today")))["cosign"] == 0
    other = make_user(Role.PHYSICIAN, "another-doc")
    from tests.conftest import logged_in_client

    assert sections(logged_in_client(other).get(reverse("worklist:today")))["cosign"] == 1


def test_a_decision_after_the_criteria_takes_the_patient_off_decisions_to_make(users, client_for):
    patient = make_patient("Decided", "Later")
    criteria(patient, users[P], timezone.now() - dt.timedelta(days=2))
    assert sections(client_for(P).get(reverse("worklist:today")))["decide"] == 1
    decision(patient, users[P])
    assert sections(client_for(P).get(reverse("worklist:today")))["decide"] == 0


def test_a_resolved_item_leaves_missing_information(users, client_for):
    clinic(users, 1)
    ChecklistItem.objects.update(resolved_at=timezone.now(), resolved_by=users[P])
    assert sections(client_for(P).get(reverse("worklist:today")))["checklist"] == 0


def test_the_front_desk_home_counts_equal_the_data(users, client_for):
    expected = clinic(users, 2)
    day = local_today()
    patient = make_patient("Arriving", "Today")
    plan = make_plan(patient, users[P], sessions=1)
    make_booking(patient, make_chair("Chair T"), users[F], day, "23:30", minutes=20, plan=plan)
    response = client_for(F).get(reverse("worklist:today"))
    got = sections(response)
    assert got["series"] == expected["series"]
    assert got["consents"] == expected["consents"]
    assert got["arrivals"] == 1
    page = text_of(response.content.decode())
    assert "Arriving" in page
    # Ketamine: 5 consented, 1-2 booked; lidocaine: 3 of 5 consented, none booked.
    assert "Ketamine plan: sessions 3–5 to book" in page
    assert "Lidocaine plan: sessions 1–3 to book" in page
    assert "Lidocaine plan: sessions 4–5 not covered by a signed consent" in page
    assert not INTERNAL.search(page)


def test_booking_the_consented_sessions_takes_the_plan_off_series_to_book(users):
    patient = make_patient("Booked", "Fully")
    plan = make_plan(patient, users[P], sessions=2)
    chair = make_chair("Chair B")
    assert homes.series_to_book().count() == 1
    for number in (1, 2):
        make_booking(
            patient,
            chair,
            users[F],
            local_today() + dt.timedelta(days=number * 2),
            "09:00",
            plan=plan,
            number=number,
        )
    assert homes.series_to_book().count() == 0
    assert homes.consents_missing().count() == 0


def test_the_billing_home_counts_sessions_to_invoice(users, client_for):
    expected = clinic(users, 2)
    response = client_for(B).get(reverse("worklist:today"))
    got = sections(response)
    assert got["invoice"] == expected["invoice"]
    assert got["overdue"] == 0
    assert f'href="{reverse("billing:home")}"' in response.content.decode()
    assert not INTERNAL.search(text_of(response.content.decode()))


def test_the_admin_home_counts_refused_accesses_of_the_last_day(users, client_for):
    assert sections(client_for(A).get(reverse("worklist:today")))["denied"] == 0
    assert client_for(N).get(reverse("audit:report")).status_code == 403
    response = client_for(A).get(reverse("worklist:today"))
    assert sections(response)["denied"] == 1
    assert f"{users[N].username}: 1 refusal (pages they may not open)" in text_of(
        response.content.decode()
    )
    for _ in range(2):
        client_for(N).get(reverse("audit:report"))
    page = text_of(client_for(A).get(reverse("worklist:today")).content.decode())
    assert f"{users[N].username}: 3 refusals (pages they may not open)" in page
    refusals = page.split("Refusals, last 24 hours")[1].split("Open the audit report")[0]
    assert "more" not in refusals  # one line stands for the three


def test_the_nurse_sees_each_chair_and_the_next_observation_due(users, client_for):
    patient = make_patient("Running", "Now")
    plan = make_plan(patient, users[P], sessions=1)
    TreatmentPlan.objects.filter(pk=plan.pk).update(protocol_id="ket-crps-outpatient")
    chair = make_chair("Chair R", days=range(7), opens="00:00", closes="23:59")
    make_chair("Chair Empty", days=range(7))
    now = timezone.now()
    booking = make_booking(
        patient, chair, users[F], local_today(), "00:00", minutes=24 * 60 - 1, plan=plan
    )
    session = make_session(booking)
    started = now - dt.timedelta(minutes=12)
    type(session).objects.filter(pk=session.pk).update(status=SessionStatus.RUNNING)
    RateSegment.objects.create(
        session=session,
        started_at=started,
        dose_value=20,
        dose_unit="mg/h",
        rate_mg_per_h=20,
        rate_ml_per_h=20,
        concentration_mg_per_ml=1,
        start_reason="start",
        started_by=users[N],
    )
    Observation.objects.create(
        session=session,
        observed_at=started,
        action="continue",
        recorded_by=users[N],
        recorded_at=started,
    )
    response = client_for(N).get(reverse("worklist:today"))
    chairs = {c.chair.name: c for c in response.context["chairs"]}
    assert set(chairs) >= {"Chair R", "Chair Empty"}
    row = chairs["Chair R"]
    assert row.booking == booking and row.state == "In the chair now"
    # Observed at the start; the protocol's next is 15 minutes in: due now (within 5 min).
    assert row.next_due == started + dt.timedelta(minutes=15)
    assert row.due_state == "due"
    assert sections(response)["chairs"] == 1
    assert chairs["Chair Empty"].booking is None
    page = text_of(response.content.decode())
    assert "Running" in page and "Due now" in page
    assert not INTERNAL.search(page)


@pytest.mark.parametrize("role", sorted(STAFF), ids=str)
def test_the_home_runs_the_same_queries_for_a_small_and_a_larger_clinic(role, users, client_for):
    client = client_for(role)
    clinic(users, 1, "a")
    client.get(reverse("worklist:today"))  # warm the per-process caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("worklist:today")).status_code == 200
    clinic(users, 6, "b")
    with CaptureQueriesContext(connection) as larger:
        assert client.get(reverse("worklist:today")).status_code == 200
    assert len(small.captured_queries) == len(larger.captured_queries), [
        q["sql"][:120] for q in larger.captured_queries
    ]


def test_the_physician_badge_is_one_query_and_counts_cosignatures(users, client_for):
    clinic(users, 2)
    client = client_for(P)
    search = reverse("patients:search")
    html = client.get(search).content.decode()
    badge = re.search(r'href="/worklist/today/">Today <span class="nav-badge"[^>]*>(\d+)<', html)
    assert badge and int(badge.group(1)) == 4
    # On the home page itself the badge is the count the page made (no second query).
    home = client.get(reverse("worklist:today")).content.decode()
    badge = re.search(r'href="/worklist/today/">Today <span class="nav-badge"[^>]*>(\d+)<', home)
    assert badge and int(badge.group(1)) == 4


def test_the_billing_badge_is_what_its_home_counted(users, client_for):
    cache.clear()
    clinic(users, 1)
    client = client_for(B)
    html = client.get(reverse("billing:home")).content.decode()
    assert 'href="/worklist/today/">Today <span' not in html  # not counted yet: no query
    client.get(reverse("worklist:today"))
    html = client.get(reverse("billing:home")).content.decode()
    badge = re.search(r'href="/worklist/today/">Today <span class="nav-badge"[^>]*>(\d+)<', html)
    assert badge and int(badge.group(1)) == 2


# --- the chair board updates in place -------------------------------------------------------


def test_todays_board_polls_its_grid_and_has_no_meta_refresh(users, client_for):
    chair = make_chair("Chair G", days=range(7), opens="00:00", closes="23:59")
    patient = make_patient("Grid", "Patient")
    plan = make_plan(patient, users[P], sessions=1)
    make_booking(patient, chair, users[F], local_today(), "10:00", minutes=60, plan=plan)
    client = client_for(N)
    page = client.get(reverse("scheduling:board")).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert 'hx-get="' + reverse("scheduling:board_grid") in page
    assert 'hx-trigger="every 60s"' in page and "vendor/htmx.min.js" in page
    grid = client.get(reverse("scheduling:board_grid"))
    assert grid.status_code == 200 and grid["X-Board-Grid"] == "1"
    html = grid.content.decode().strip()
    assert html.startswith('<table class="board">') and html.endswith("</table>")
    assert "Patient, Grid" in html
    assert "<html" not in html and "topbar" not in html and "<nav" not in html


def test_another_days_board_does_not_poll(client_for):
    other = (local_today() + dt.timedelta(days=2)).isoformat()
    page = client_for(N).get(reverse("scheduling:board"), {"date": other}).content.decode()
    assert "hx-get" not in page and 'http-equiv="refresh"' not in page


def test_referrals_to_triage_are_counted_listed_and_in_the_badge(users, client_for):
    from django.apps import apps

    if not apps.is_installed("painclinic.web.referrals"):
        pytest.skip("the referrals app is not installed")
    referral = apps.get_model("referrals", "Referral")
    for i in range(3):
        referral.objects.create(
            kind="self",
            given_name="Luc",
            family_name=f"Gagnon{i}",
            date_of_birth=dt.date(1975, 11, 2),
            condition="phn",
            submitted_at=timezone.now(),
        )
    referral.objects.filter(family_name="Gagnon2").update(status="accepted")
    for role in (F, P):
        response = client_for(role).get(reverse("worklist:today"))
        assert sections(response)["referrals"] == 2
        html = response.content.decode()
        assert "Gagnon0, Luc" in html and "Gagnon2" not in html
        assert reverse("referrals:queue") in html
    badge = re.search(
        r'href="/worklist/today/">Today <span class="nav-badge"[^>]*>(\d+)<',
        client_for(F).get(reverse("patients:search")).content.decode(),
    )
    assert badge and int(badge.group(1)) == 2


def test_billing_lists_stop_one_past_what_they_show(users, client_for):
    clinic(users, homes.SHOWN // 2 + 1)  # two sessions each: more than the list shows
    response = client_for(B).get(reverse("worklist:today"))
    section = next(s for s in response.context["sections"] if s.key == "invoice")
    assert section.at_least and len(section.items) == homes.SHOWN
    assert f"{homes.SHOWN}+" in text_of(response.content.decode())
