"""Numbers the forms refuse with a message on the field (each was a server error or slipped by).

The fuzz (test_form_fuzz.py) finds these among many; here each is stated once, plainly.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django import forms
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.infusions import services as infusion_services
from painclinic.web.infusions.models import SessionStatus
from painclinic.web.lib.bounds import MAX_VERSION, OUT_OF_DATE
from painclinic.web.lib.converters import MAX_ROW_ID
from painclinic.web.lib.service import Refused
from painclinic.web.treatments.models import FeeItem
from tests.conftest import actor_as, logged_in_client
from tests.web.infusions.conftest import checklist_data, checklist_input
from tests.web.world import build_stages

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


def checklist_post(session, **overrides):
    data = checklist_data(**overrides)
    data["expected_version"] = session.version
    data["no_new_conditions_confirmed"] = "on"
    for name in ("last_solids_at", "last_clear_fluids_at"):
        data[name] = timezone.localtime(data[name]).strftime(LOCAL)
    return data


@pytest.mark.parametrize("weight", ["800", "19.9", "300.1", "-80", "1e308"])
def test_the_checklist_refuses_an_absurd_weight_on_the_field(weight, world):
    session = build_stages(world).scheduled
    client = logged_in_client(world.users[Role.NURSE])
    url = reverse("infusions:checklist", kwargs={"session_id": session.pk})
    response = client.post(url, checklist_post(session, weight_kg=weight))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "Weight must be between 20 and 300 kg (kilograms only)." in errors["weight_kg"]
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


def test_the_checklist_service_refuses_it_for_any_caller(world):
    session = build_stages(world).scheduled
    with pytest.raises(Refused) as refused:
        infusion_services.do_complete_checklist(
            actor_as(world.users[Role.NURSE]),
            session.pk,
            session.version,
            checklist_input(weight_kg=Decimal("800")),
        )
    assert refused.value.field in ("weight_kg", None)
    assert "between 20 and 300 kg" in refused.value.message
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


def test_a_plausible_checklist_weight_still_passes(world):
    session = build_stages(world).scheduled
    client = logged_in_client(world.users[Role.NURSE])
    url = reverse("infusions:checklist", kwargs={"session_id": session.pk})
    response = client.post(url, checklist_post(session, weight_kg="80.0"))
    assert response.status_code == 302, response.context["form"].errors
    session.refresh_from_db()
    assert session.status == SessionStatus.CHECKLIST_DONE


@pytest.mark.parametrize("amount", ["1e999999", "100000.01", "1E+20"])
def test_a_fee_beyond_any_real_one_gets_a_message(amount, world):
    client = logged_in_client(world.users[Role.BILLING])
    before = FeeItem.objects.count()
    response = client.post(
        reverse("treatments:fees"),
        {
            "code": "KET-HUGE",
            "description": "Huge",
            "amount": amount,
            "basis": "per_session",
            "effective_from": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [
        "That is more than $100,000: check the amount."
    ]
    assert FeeItem.objects.count() == before


@pytest.mark.parametrize("version", [str(MAX_VERSION + 1), str(2**63), "-1", "1e3"])
def test_a_tampered_version_gets_the_out_of_date_message(version, world):
    session = build_stages(world).scheduled
    client = logged_in_client(world.users[Role.NURSE])
    url = reverse("infusions:checklist", kwargs={"session_id": session.pk})
    data = checklist_post(session) | {"expected_version": version}
    response = client.post(url, data)
    assert response.status_code == 200
    assert OUT_OF_DATE in str(response.context["form"].errors)


def test_the_audit_report_refuses_an_id_or_a_date_out_of_range(world):
    client = logged_in_client(world.users[Role.CLINIC_ADMIN])
    response = client.get(reverse("audit:report"), {"patient": str(MAX_ROW_ID + 1)})
    assert response.status_code == 200 and response.context["form"].errors["patient"]
    response = client.get(reverse("audit:report"), {"date_to": "9999-12-31"})
    assert response.status_code == 200
    assert response.context["form"].errors["date_to"] == [
        "Choose a date from 1900-01-01 to 2999-12-31."
    ]
    stream = client.get(reverse("audit:export"), {"date_to": "9999-12-31"})
    assert stream.status_code == 200 and b"".join(stream.streaming_content)


def test_every_number_field_of_the_web_forms_is_bounded():
    """A DecimalField, IntegerField or FloatField without both bounds fails here, naming it."""
    import importlib
    import inspect
    import pkgutil

    import painclinic.web

    unbounded = []
    for info in pkgutil.walk_packages(painclinic.web.__path__, "painclinic.web."):
        if not info.name.endswith(".forms"):
            continue
        module = importlib.import_module(info.name)
        for name, form in vars(module).items():
            if not (inspect.isclass(form) and issubclass(form, forms.BaseForm)):
                continue
            if form.__module__ != module.__name__:
                continue
            for field_name, field in form.base_fields.items():
                number = isinstance(field, forms.IntegerField | forms.DecimalField)
                if not number:
                    continue
                if field.min_value is None or field.max_value is None:
                    unbounded.append(f"{info.name}.{name}.{field_name}")
    assert unbounded == []
