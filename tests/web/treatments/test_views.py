"""Treatment pages: role matrix, object access (IDOR), consent and fee forms."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from painclinic.web.treatments.models import FeeItem, TreatmentConsent, TreatmentPlan
from painclinic.web.treatments.services import (
    ServiceError,
    do_create_plan,
    estimate_cost,
    fees_in_effect,
    get_plan_for,
    preview_plan,
)
from tests.conftest import actor_as, make_patient
from tests.web.treatments.conftest import heavier, request_as, sign_consent

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)

URL_MATRIX: dict[str, set[Role]] = {
    "treatments:patient": {P, N, F, B},
    "treatments:consent_new": {P},
    "treatments:consent": {P, N, F, B},
    "treatments:consent_withdraw": {P},
    "treatments:plan_new": {P},
    "treatments:plan": {P, N},
    "treatments:plan_cosign": {P},
    "treatments:plan_cancel": {P},
    "treatments:fees": {B, A},
    "treatments:fee_deactivate": {B, A},
}


@pytest.fixture
def soft_plan(ready, users) -> TreatmentPlan:
    heavier(ready, users)  # 7.69 mg/kg of ideal body weight: above the soft limit
    preview = preview_plan(ready, "lid-5mgkg-60min")
    return do_create_plan(
        request_as(users[Role.PHYSICIAN]),
        ready,
        protocol_id="lid-5mgkg-60min",
        sessions=1,
        soft_limit_reason="Refractory PHN",
        expected_weight_id=preview.weight.weight.pk,
    )


def url_for(name: str, plan: TreatmentPlan) -> str:
    if name in ("treatments:patient", "treatments:consent_new", "treatments:plan_new"):
        return reverse(name, kwargs={"patient_id": plan.patient_id})
    if name.startswith("treatments:consent"):
        return reverse(name, kwargs={"consent_id": plan.consent_id})
    if name.startswith("treatments:plan"):
        return reverse(name, kwargs={"plan_id": plan.pk})
    if name == "treatments:fee_deactivate":
        return reverse(name, kwargs={"item_id": FeeItem.objects.first().pk})
    return reverse(name)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(role, soft_plan, client_for):
    client = client_for(role)
    for name, allowed in URL_MATRIX.items():
        status = client.get(url_for(name, soft_plan)).status_code
        assert status == (200 if role in allowed else 403), (name, role, status)


def denied():
    return AuditEvent.objects.filter(action=Action.ACCESS_DENIED, outcome=Outcome.DENIED)


@pytest.mark.parametrize(
    ("name", "kwarg"),
    [
        ("treatments:plan", "plan_id"),
        ("treatments:plan_cosign", "plan_id"),
        ("treatments:plan_cancel", "plan_id"),
        ("treatments:consent", "consent_id"),
        ("treatments:consent_withdraw", "consent_id"),
    ],
)
def test_unknown_ids_are_404_and_audited(name, kwarg, soft_plan, client_for):
    before = denied().count()
    response = client_for(Role.PHYSICIAN).get(reverse(name, kwargs={kwarg: 987654}))
    assert response.status_code == 404
    event = denied().order_by("-sequence").first()
    assert denied().count() == before + 1 and event.detail["object_id"] == "987654"


def test_a_portal_user_cannot_reach_another_patients_plan(soft_plan, users, own_patient):
    """Belt and braces behind the role gate: the object check refuses it too (404 + audit)."""
    from django.http import Http404

    before = denied().count()
    with pytest.raises(Http404):
        get_plan_for(actor_as(users[Role.PATIENT]), soft_plan.pk)
    assert denied().count() == before + 1


def test_plan_view_is_audited_as_a_read(soft_plan, client_for, users):
    client_for(Role.NURSE).get(reverse("treatments:plan", kwargs={"plan_id": soft_plan.pk}))
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.action == Action.VIEW and event.patient_id == soft_plan.patient_id
    assert event.object_type == "treatmentplan" and event.actor == users[Role.NURSE]


def test_front_desk_sees_the_plan_list_but_no_plan_links(soft_plan, client_for):
    html = client_for(Role.FRONT_DESK).get(
        reverse("treatments:patient", kwargs={"patient_id": soft_plan.patient_id})
    )
    assert b"Awaiting co-signature" in html.content
    assert reverse("treatments:plan", kwargs={"plan_id": soft_plan.pk}).encode() not in html.content


# --- estimate -----------------------------------------------------------------------------------


def test_estimate_arithmetic_in_integer_cents(fees):
    estimate = estimate_cost("ketamine", "ket-crps-outpatient", 10)
    amounts = {line.code: (line.quantity, line.amount_cents) for line in estimate.lines}
    assert amounts == {
        "DEMO-PLAN": (1, 25000),
        "DEMO-KET-SESSION": (10, 450000),
        "DEMO-SUPPLIES": (10, 25500),
    }
    assert estimate.subtotal_cents == 25000 + 10 * 45000 + 10 * 2550 == 500500
    # The demo items are health services (HST-exempt): no tax, the total is the subtotal.
    assert estimate.hst_cents == 0 and estimate.total_cents == 500500
    lidocaine = estimate_cost("lidocaine", "lid-5mgkg-60min", 1)
    assert {line.code for line in lidocaine.lines} == {
        "DEMO-PLAN",
        "DEMO-LID-SESSION",
        "DEMO-SUPPLIES",
    }
    assert lidocaine.subtotal_cents == 25000 + 35000 + 2550


def test_hst_is_decided_per_item_and_rounds_half_up_per_line(db):
    def item(code, cents, tax_category):
        return FeeItem.objects.create(
            code=code,
            description=code,
            amount_cents=cents,
            basis="per_session",
            tax_category=tax_category,
            effective_from=dt.date(2026, 1, 1),
            created_at=timezone.now(),
        )

    item("EXEMPT", 1050, "exempt_health")
    only_exempt = estimate_cost("ketamine", "ket-crps-outpatient", 1, on=dt.date(2026, 7, 1))
    assert only_exempt.hst_cents == 0 and only_exempt.total_cents == 1050
    item("TAXED", 1050, "taxable")
    item("TAXED2", 1050, "taxable")
    estimate = estimate_cost("ketamine", "ket-crps-outpatient", 1, on=dt.date(2026, 7, 1))
    taxes = {line.code: line.tax_cents for line in estimate.lines}
    # 13% of 10.50 = 1.365 -> 1.37 on each taxable line (per line: 2 x 1.37 = 2.74, where one
    # rounding of the sum would give 2.73); the exempt line has none.
    assert taxes == {"EXEMPT": 0, "TAXED": 137, "TAXED2": 137}
    assert estimate.hst_cents == 274 and estimate.total_cents == 3 * 1050 + 274


def test_fees_in_effect_take_the_latest_active_price_in_effect(db):
    def item(code, cents, on, active=True):
        return FeeItem.objects.create(
            code=code,
            description=code,
            amount_cents=cents,
            basis="per_session",
            effective_from=on,
            active=active,
            created_at=timezone.now(),
        )

    item("A", 100, dt.date(2026, 1, 1))
    newer = item("A", 200, dt.date(2026, 6, 1))
    item("A", 300, dt.date(2099, 1, 1))  # not yet in effect
    item("B", 100, dt.date(2026, 1, 1), active=False)
    chosen = fees_in_effect(dt.date(2026, 7, 1))
    assert [f.pk for f in chosen] == [newer.pk]


# --- consent ------------------------------------------------------------------------------------


def consent_post(client, patient, **overrides):
    url = reverse("treatments:consent_new", kwargs={"patient_id": patient.pk})
    estimate = estimate_cost("ketamine", "ket-crps-outpatient", 10)
    data = {
        "protocol_id": "ket-crps-outpatient",
        "sessions": "10",
        "shown_total_cents": str(estimate.total_cents),
        "patient_signed_name": "Ada Lovelace",
        "signature_method": "tablet",
        "signature_confirmed": "on",
        "witness": "",
        "signed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
    data.update(overrides)
    return client.post(url, data)


def test_consent_is_recorded_with_text_estimate_and_witness(patient, users, client_for, fees):
    client = client_for(Role.PHYSICIAN)
    response = consent_post(client, patient, witness=str(users[Role.NURSE].pk))
    assert response.status_code == 302
    consent = TreatmentConsent.objects.get()
    assert consent.witness == users[Role.NURSE] and consent.obtained_by == users[Role.PHYSICIAN]
    assert consent.estimate_total_cents == 500500  # health services: HST-exempt
    assert "not covered by OHIP" in consent.coverage_statement
    assert "off-label" in consent.off_label_statement and consent.risks
    event = AuditEvent.objects.filter(object_type="treatmentconsent").get()
    assert event.detail["estimate_total_cents"] == 500500
    page = client.get(response["Location"]).content.decode()
    assert "$5,005.00" in page and "not covered by OHIP" in page and "Print" in page


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"witness": ""}, "witness"),
        ({"signature_confirmed": ""}, "signature_confirmed"),
        ({"patient_signed_name": " "}, "patient_signed_name"),
        ({"sessions": "7"}, "sessions"),
        ({"signed_at": "2099-01-01T10:00"}, "signed_at"),
    ],
)
def test_bad_consent_input_names_the_field_and_saves_nothing(
    patient, users, client_for, fees, overrides, field
):
    client = client_for(Role.PHYSICIAN)
    overrides = {"witness": str(users[Role.NURSE].pk), **overrides}
    before = AuditEvent.objects.filter(object_type="treatmentconsent").count()
    response = consent_post(client, patient, **overrides)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert TreatmentConsent.objects.count() == 0
    assert AuditEvent.objects.filter(object_type="treatmentconsent").count() == before


def test_the_person_obtaining_consent_cannot_witness_it(patient, users, fees):
    physician = users[Role.PHYSICIAN]
    with pytest.raises(ServiceError) as error:
        sign_consent(patient, "ket-crps-outpatient", 10, physician, physician)
    assert error.value.field == "witness"
    assert TreatmentConsent.objects.count() == 0


def test_a_changed_fee_schedule_must_be_shown_again(patient, users, client_for, fees):
    response = consent_post(
        client_for(Role.PHYSICIAN),
        patient,
        witness=str(users[Role.NURSE].pk),
        shown_total_cents="1",
    )
    assert response.status_code == 200 and b"fee schedule changed" in response.content
    assert TreatmentConsent.objects.count() == 0


def test_withdrawal_is_a_new_row(patient, users, client_for, fees):
    consent = sign_consent(
        patient, "ket-crps-outpatient", 10, users[Role.PHYSICIAN], users[Role.NURSE]
    )
    url = reverse("treatments:consent_withdraw", kwargs={"consent_id": consent.pk})
    client = client_for(Role.PHYSICIAN)
    assert client.post(url, {"reason": ""}).status_code == 200
    assert TreatmentConsent.objects.count() == 1
    assert client.post(url, {"reason": "Changed her mind"}).status_code == 302
    withdrawal = TreatmentConsent.objects.get(withdraws=consent)
    assert withdrawal.decision == "withdrawn" and withdrawal.reason == "Changed her mind"
    consent.refresh_from_db()
    assert consent.decision == "granted"  # the original is untouched


# --- fee schedule -------------------------------------------------------------------------------


def fee_post(client, **overrides):
    data = {
        "code": "KET-SESSION",
        "description": "Ketamine session",
        "amount": "450.00",
        "basis": "per_session",
        "drug": "ketamine",
        "protocol_id": "",
        "tax_category": "exempt_health",
        "effective_from": "2026-01-01",
    }
    data.update(overrides)
    return client.post(reverse("treatments:fees"), data)


def test_billing_adds_a_fee_in_cents_and_it_is_audited(client_for, users):
    response = fee_post(client_for(Role.BILLING), amount="$1,250.55")
    assert response.status_code == 302
    item = FeeItem.objects.get()
    assert item.amount_cents == 125055 and item.created_by == users[Role.BILLING]
    event = AuditEvent.objects.filter(object_type="feeitem").get()
    assert event.detail["after"]["amount_cents"] == 125055


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"amount": "4.505"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"code": "bad code!"}, "code"),
        ({"protocol_id": "lid-5mgkg-60min"}, "drug"),
    ],
)
def test_bad_fee_input_names_the_field_and_saves_nothing(client_for, overrides, field):
    response = fee_post(client_for(Role.BILLING), **overrides)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert FeeItem.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="feeitem").exists()


def test_fees_are_deactivated_not_deleted(client_for, fees):
    item = FeeItem.objects.get(code="DEMO-SUPPLIES")
    client = client_for(Role.CLINIC_ADMIN)
    url = reverse("treatments:fee_deactivate", kwargs={"item_id": item.pk})
    assert client.post(url).status_code == 302
    item.refresh_from_db()
    assert not item.active and FeeItem.objects.filter(pk=item.pk).exists()
    assert "DEMO-SUPPLIES" not in {f.code for f in fees_in_effect()}
    assert client.post(url).status_code == 200  # already inactive: said so, nothing changes


def test_demo_fee_schedule_is_idempotent_and_labelled(users):
    from painclinic.web.demo.treatments import load_fee_schedule

    admin = actor_as(users[Role.CLINIC_ADMIN])
    assert load_fee_schedule(admin) == 4
    assert load_fee_schedule(admin) == 0
    assert all("DEMO VALUE" in f.description for f in FeeItem.objects.all())


def test_patient_page_lists_consents_and_plans(soft_plan, client_for):
    page = client_for(Role.BILLING).get(
        reverse("treatments:patient", kwargs={"patient_id": soft_plan.patient_id})
    )
    assert page.status_code == 200
    assert b"Awaiting co-signature" in page.content and b"$" in page.content


def test_someone_elses_patient_id_on_consent_new_is_404(client_for):
    other = make_patient("Nobody", "Here")
    response = client_for(Role.PHYSICIAN).get(
        reverse("treatments:consent_new", kwargs={"patient_id": other.pk + 1000})
    )
    assert response.status_code == 404


def test_a_second_price_for_the_same_code_and_date_is_refused(client_for, fees):
    response = fee_post(client_for(Role.BILLING), code="DEMO-PLAN", effective_from="2026-01-01")
    assert response.status_code == 200
    assert "effective_from" in response.context["form"].errors
    assert FeeItem.objects.filter(code="DEMO-PLAN").count() == 1
    # A later date is a price change: accepted, and the later price is the one in effect.
    assert (
        fee_post(
            client_for(Role.BILLING), code="DEMO-PLAN", amount="300", effective_from="2026-06-01"
        ).status_code
        == 302
    )
    plan_fees = [f for f in fees_in_effect(dt.date(2026, 7, 1)) if f.code == "DEMO-PLAN"]
    assert [f.amount_cents for f in plan_fees] == [30000]


def test_a_patient_account_cannot_witness(patient, users, fees):
    with pytest.raises(ServiceError) as error:
        sign_consent(patient, "ket-crps-outpatient", 10, users[Role.PHYSICIAN], users[Role.PATIENT])
    assert error.value.field == "witness"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"protocol_id": "ket-crps-outpatient", "sessions": "7"}, "sessions"),
        ({"protocol_id": "lid-5mgkg-60min", "sessions": "10"}, "sessions"),
        ({"protocol_id": "no-such-protocol", "sessions": "1"}, "protocol_id"),
    ],
)
def test_bad_plan_choice_names_the_field_and_saves_nothing(ready, client_for, data, field):
    url = reverse("treatments:plan_new", kwargs={"patient_id": ready.pk})
    response = client_for(Role.PHYSICIAN).post(
        url, {**data, "expected_weight_id": ready.weights.first().pk}
    )
    assert response.status_code == 200
    assert field in response.context["chooser"].errors
    assert TreatmentPlan.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="treatmentplan").exists()


@pytest.mark.django_db
@hypothesis_settings(max_examples=40)
@given(
    session_cents=st.integers(min_value=1, max_value=5_000_000),
    consult_cents=st.integers(min_value=1, max_value=5_000_000),
    sessions=st.sampled_from([5, 10]),
)
def test_estimate_matches_independent_decimal_arithmetic(session_cents, consult_cents, sessions):
    FeeItem.objects.all().delete()
    for code, cents, basis in (
        ("S", session_cents, "per_session"),
        ("C", consult_cents, "per_consult"),
    ):
        FeeItem.objects.create(
            code=code,
            description=code,
            amount_cents=cents,
            basis=basis,
            tax_category="taxable",
            effective_from=dt.date(2026, 1, 1),
            created_at=timezone.now(),
        )
    estimate = estimate_cost("ketamine", "ket-crps-outpatient", sessions)
    lines = (Decimal(session_cents) * sessions, Decimal(consult_cents))
    subtotal = sum(lines)
    # HST per line, each rounded half up to the cent.
    hst = sum(
        (line * Decimal("0.13")).quantize(Decimal(1), rounding=ROUND_HALF_UP) for line in lines
    )
    assert estimate.subtotal_cents == int(subtotal)
    assert estimate.hst_cents == int(hst)
    assert estimate.total_cents == int(subtotal + hst)
    assert all(isinstance(line.amount_cents, int) for line in estimate.lines)


def test_pages_need_the_same_queries_whatever_the_number_of_plans(ready, users, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert client_for(Role.PHYSICIAN).get(url).status_code == 200
        return len(queries)

    def add_plan():
        preview = preview_plan(ready, "ket-crps-outpatient")
        return do_create_plan(
            request_as(users[Role.PHYSICIAN]),
            ready,
            protocol_id="ket-crps-outpatient",
            sessions=10,
            soft_limit_reason="",
            expected_weight_id=preview.weight.weight.pk,
        )

    first = add_plan()
    patient_url = reverse("treatments:patient", kwargs={"patient_id": ready.pk})
    plan_url = reverse("treatments:plan", kwargs={"plan_id": first.pk})
    few_patient, few_plan = count(patient_url), count(plan_url)
    for _ in range(4):
        add_plan()
    assert count(patient_url) == few_patient
    assert count(plan_url) == few_plan


def test_patient_page_says_what_is_missing_before_a_plan(patient, client_for):
    html = (
        client_for(Role.PHYSICIAN)
        .get(reverse("treatments:patient", kwargs={"patient_id": patient.pk}))
        .content.decode()
    )
    assert "No physician has decided the patient&#x27;s eligibility for ketamine" in html
    assert "within the clinic's 30-day limit" in html


def test_a_fee_carries_its_tax_category_length_tier_and_package_size(client_for):
    client = client_for(Role.BILLING)
    assert (
        fee_post(client, code="KET-LONG", min_minutes="121", max_minutes="240").status_code == 302
    )
    assert (
        fee_post(
            client,
            code="REPORT",
            basis="service",
            drug="",
            tax_category="taxable",
            amount="150.00",
        ).status_code
        == 302
    )
    assert (
        fee_post(client, code="KET-SERIES", basis="package", package_sessions="6").status_code
        == 302
    )
    items = {item.code: item for item in FeeItem.objects.all()}
    assert (items["KET-LONG"].min_minutes, items["KET-LONG"].max_minutes) == (121, 240)
    assert items["KET-LONG"].tax_category == "exempt_health"
    assert items["REPORT"].tax_category == "taxable"
    assert items["KET-SERIES"].package_sessions == 6
    page = client.get(reverse("treatments:fees")).content.decode()
    assert "121 to 240 min" in page and "6 sessions" in page
    assert "Not a health service, HST applies" in page and "Health service, HST-exempt" in page


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tax_category": ""}, "tax_category"),
        ({"tax_category": "vat"}, "tax_category"),
        ({"basis": "package"}, "package_sessions"),
        ({"package_sessions": "6"}, "package_sessions"),
        ({"basis": "per_consult", "min_minutes": "60"}, "min_minutes"),
        ({"min_minutes": "240", "max_minutes": "120"}, "max_minutes"),
        ({"min_minutes": "0"}, "min_minutes"),
    ],
)
def test_bad_fee_tiers_and_tax_name_the_field_and_save_nothing(client_for, overrides, field):
    response = fee_post(client_for(Role.BILLING), **overrides)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not FeeItem.objects.exists()
