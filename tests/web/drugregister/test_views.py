"""Drug-register pages: role matrix, forms with field errors, discrepancy resolution."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.drugregister.models import Discrepancy, RegisterEntry, StockCount
from painclinic.web.drugregister.services import (
    CountInput,
    ReceiptInput,
    balance_mg,
    do_record_count,
    do_record_receipt,
)

pytestmark = pytest.mark.django_db

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)
URL_MATRIX: dict[str, set[Role]] = {
    "drugregister:home": {P, N, A},
    "drugregister:receive": {N},
    "drugregister:count": {N},
    "drugregister:discrepancies": {P, N, A},
    "drugregister:resolve": {P, A},
    "drugregister:entries": {P, N, A},
    "drugregister:destroy": {N},
    "drugregister:waste": {N},
}


@pytest.fixture
def discrepancy(users, request_as):
    nurse = request_as(users[N])
    do_record_receipt(
        nurse,
        ReceiptInput(
            concentration_mg_per_ml="50",
            vial_volume_ml=Decimal("10"),
            vial_count=4,
            lot="KX1",
            expiry_date=timezone.localdate() + dt.timedelta(days=300),
            supplier="Sandoz",
            reference="INV-9",
        ),
    )
    count = do_record_count(
        nurse,
        CountInput(concentration_mg_per_ml="50", full_vials=3, vial_volume_ml=Decimal("10")),
    )
    return count.discrepancy


def url(name, discrepancy, session=None):
    kwargs = {
        "drugregister:resolve": {"discrepancy_id": discrepancy.pk},
        "drugregister:waste": {"session_id": getattr(session, "pk", 0)},
    }.get(name, {})
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(role, discrepancy, session, client_for):
    client = client_for(role)
    for name, allowed in URL_MATRIX.items():
        response = client.get(url(name, discrepancy, session))
        assert response.status_code == (200 if role in allowed else 403), (name, role)


def test_home_shows_balances_iso_formatted(discrepancy, client_for):
    page = client_for(N).get(reverse("drugregister:home")).content.decode()
    assert "2,000 mg" in page  # 4 x 10 mL x 50 mg/mL
    assert "50 mg/mL" in page and "1 open discrepancy" in page
    assert ".0 mg" not in page  # no trailing zeros


def test_receive_form(client_for):
    client = client_for(N)
    good = {
        "concentration_mg_per_ml": "10.00",
        "vial_volume_ml": "5",
        "vial_count": "10",
        "lot": "ab12",
        "expiry_date": (timezone.localdate() + dt.timedelta(days=90)).isoformat(),
        "supplier": "Sandoz",
        "reference": "INV-1",
    }
    assert client.post(reverse("drugregister:receive"), good).status_code == 302
    entry = RegisterEntry.objects.get()
    assert entry.lot == "AB12" and entry.amount_mg == Decimal("500")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("concentration_mg_per_ml", "25"),
        ("vial_volume_ml", "-1"),
        ("vial_count", "0"),
        ("expiry_date", "2020-01-01"),
        ("lot", ""),
    ],
)
def test_receive_bad_input_names_the_field_and_saves_nothing(client_for, field, value):
    client = client_for(N)
    data = {
        "concentration_mg_per_ml": "10.00",
        "vial_volume_ml": "5",
        "vial_count": "10",
        "lot": "AB12",
        "expiry_date": (timezone.localdate() + dt.timedelta(days=90)).isoformat(),
        "supplier": "Sandoz",
        "reference": "INV-1",
        field: value,
    }
    before = AuditEvent.objects.count()
    response = client.post(reverse("drugregister:receive"), data)
    assert field in response.context["form"].errors
    assert not RegisterEntry.objects.exists() and AuditEvent.objects.count() == before


def test_count_mismatch_via_the_page_then_resolution(discrepancy, client_for):
    page = client_for(A).get(reverse("drugregister:discrepancies")).content.decode()
    assert "−500 mg" in page and "Open" in page
    client = client_for(P)
    target = reverse("drugregister:resolve", kwargs={"discrepancy_id": discrepancy.pk})
    short = client.post(target, {"explanation": "lost"})
    assert "explanation" in short.context["form"].errors
    assert (
        client.post(target, {"explanation": "One vial broke during unpacking."}).status_code == 302
    )
    assert balance_mg(Decimal("50")) == Decimal("1500")
    assert Discrepancy.objects.get().resolution.resolved_by.role == P


def test_count_page_records_a_matching_count(client_for, discrepancy, users, request_as):
    client = client_for(N)
    response = client.post(
        reverse("drugregister:count"),
        {"concentration_mg_per_ml": "10.00", "full_vials": "0", "vial_volume_ml": "5"},
    )
    assert response.status_code == 302
    assert StockCount.objects.filter(concentration_mg_per_ml=10).get().counted_mg == 0
    # The open discrepancy at 50 mg/mL blocks a new count there, on the field.
    blocked = client.post(
        reverse("drugregister:count"),
        {"concentration_mg_per_ml": "50.00", "full_vials": "3", "vial_volume_ml": "10"},
    )
    assert "concentration_mg_per_ml" in blocked.context["form"].errors


def test_entries_filters(discrepancy, client_for):
    client = client_for(N)
    assert len(client.get(reverse("drugregister:entries")).context["page"]) == 1
    assert len(client.get(reverse("drugregister:entries"), {"lot": "kx1"}).context["page"]) == 1
    assert len(client.get(reverse("drugregister:entries"), {"lot": "zz"}).context["page"]) == 0
    by_conc = client.get(reverse("drugregister:entries"), {"concentration": "10.00"})
    assert len(by_conc.context["page"]) == 0
    today = timezone.localdate().isoformat()
    assert (
        len(client.get(reverse("drugregister:entries"), {"date_from": today}).context["page"]) == 1
    )
    bad = client.get(reverse("drugregister:entries"), {"date_from": today, "date_to": "2020-01-01"})
    assert "date_to" in bad.context["form"].errors
    far = client.get(reverse("drugregister:entries"), {"date_to": "9999-12-31"})
    assert far.status_code == 200 and "date_to" in far.context["form"].errors


def test_unknown_discrepancy_is_404(client_for):
    assert (
        client_for(P)
        .get(reverse("drugregister:resolve", kwargs={"discrepancy_id": 99999}))
        .status_code
        == 404
    )


def test_waste_page_records_witnessed_waste(users, request_as, session, second_nurse, client_for):
    from painclinic.web.drugregister.services import do_record_draw
    from tests.conftest import PASSWORD

    nurse = request_as(users[N])
    do_record_receipt(
        nurse,
        ReceiptInput(
            concentration_mg_per_ml="10",
            vial_volume_ml=Decimal("5"),
            vial_count=2,
            lot="W1",
            expiry_date=timezone.localdate() + dt.timedelta(days=30),
            supplier="S",
            reference="R",
        ),
    )
    do_record_draw(nurse, session, concentration_mg_per_ml="10", amount_mg="50", lot="W1")
    client = client_for(N)
    target = reverse("drugregister:waste", kwargs={"session_id": session.pk})
    page = client.get(target)
    assert users[N] not in page.context["form"].fields["witness"].queryset  # not yourself
    assert users[F] not in page.context["form"].fields["witness"].queryset  # clinical only
    data = {
        "concentration_mg_per_ml": "10.00",
        "amount_mg": "10",
        "reason": "left over",
        "witness": second_nurse.pk,
        "witness_password": "wrong",
    }
    refused = client.post(target, data)
    assert "witness_password" in refused.context["form"].errors
    assert client.post(target, {**data, "witness_password": PASSWORD}).status_code == 302
    assert RegisterEntry.objects.filter(kind="waste", witness=second_nurse).count() == 1


def test_waste_page_for_an_unknown_session_is_404_and_audited(client_for):
    from painclinic.web.audit.models import Action

    client = client_for(N)
    before = AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count()
    response = client.get(reverse("drugregister:waste", kwargs={"session_id": 999999}))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count() == before + 1


def test_destroy_page_shows_expired_lots_and_records_destruction(
    discrepancy, users, second_nurse, client_for
):
    from tests.conftest import PASSWORD

    client = client_for(N)
    page = client.get(reverse("drugregister:destroy")).content.decode()
    assert "KX1" in page
    data = {
        "concentration_mg_per_ml": "50.00",
        "lot": "kx1",
        "amount_mg": "500",
        "reason": "vial cracked",
        "witness": second_nurse.pk,
        "witness_password": PASSWORD,
    }
    too_much = client.post(reverse("drugregister:destroy"), {**data, "amount_mg": "2000.01"})
    assert "amount_mg" in too_much.context["form"].errors
    assert client.post(reverse("drugregister:destroy"), data).status_code == 302
    assert balance_mg(Decimal("50")) == Decimal("1500")
