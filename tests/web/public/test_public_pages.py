"""The public patient pages: no login, no personal data, the prices in effect, sourced claims,
and the front door that still sends each signed-in user to their own home."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from painclinic.web.accounts import views as account_views
from painclinic.web.accounts.models import Role
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.public import content
from painclinic.web.treatments.models import FeeBasis, TaxCategory
from painclinic.web.treatments.services import FeeItemInput, do_add_fee_item
from tests.conftest import actor_as
from tests.web.test_page_wording import EVIDENCE_TAG, FIELD_NAME, MODULE, RULE_ID, visible_text

pytestmark = pytest.mark.django_db

PAGES = [f"public:{slug}" for slug in content.PAGES]
SIGNED_IN = [r for r in Role if r != Role.SYSTEM]


@pytest.fixture(autouse=True)
def fresh_content():
    content._load.cache_clear()
    yield
    content._load.cache_clear()


def fee(users, code, cents, basis=FeeBasis.PER_SESSION, *, on, tax=TaxCategory.EXEMPT_HEALTH, **kw):
    return do_add_fee_item(
        actor_as(users[Role.CLINIC_ADMIN]),
        FeeItemInput(
            code=code,
            description=kw.pop("description", f"Service {code.lower()}"),
            amount_cents=cents,
            basis=basis,
            effective_from=on,
            tax_category=tax,
            **kw,
        ),
    )


def test_every_public_page_opens_without_signing_in(patient, own_patient):
    client = Client()
    for name in PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert content.page(name.split(":")[1]).title in html.replace("&#x27;", "'"), name
        # No one's record reaches a public page, whoever is registered.
        for person in (patient, own_patient):
            assert person.legal_family_name not in html, name
            assert person.legal_given_name not in html, name
        assert patient.health_card_number not in html, name
        # The public navigation, with the other helpers' pages and the staff sign-in.
        for link in ('href="/refer/"', 'href="/ask-to-be-seen/"', reverse("accounts:login")):
            assert link in html, (name, link)


def test_the_front_door_is_the_public_home_for_a_visitor(settings):
    settings.CLINIC_NAME = "Harbourfront Pain Clinic"
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Harbourfront Pain Clinic" in html
    assert "Ketamine and lidocaine infusions for chronic pain" in html
    assert "Staff sign in" in html
    assert Client().post("/").status_code == 405


@pytest.mark.parametrize("role", SIGNED_IN, ids=lambda r: r.value)
def test_a_signed_in_user_still_lands_on_their_own_home(role, users, client_for):
    request = RequestFactory().get("/")
    request.user = users[role]
    expected = account_views.home(request)
    response = client_for(role).get("/")
    assert response.status_code == expected.status_code == 302
    assert response["Location"] == expected["Location"]
    if role == Role.PATIENT:
        assert response["Location"] == reverse("portal:home")


def test_the_front_door_keeps_the_gates_of_the_home_it_leads_to(users, client_for):
    """A temporary password still opens only the page that replaces it, even from ``/``."""
    nurse = users[Role.NURSE]
    client = client_for(Role.NURSE)
    nurse.password_must_change = True
    nurse.save(update_fields=["password_must_change"])
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change")


def test_prices_are_the_fee_schedule_in_effect_today(users):
    today = clinic_today()
    fee(users, "KET", 45000, on=today - dt.timedelta(days=30), description="Ketamine session")
    fee(
        users,
        "PKG",
        160000,
        FeeBasis.PACKAGE,
        on=today - dt.timedelta(days=30),
        description="Ketamine series of 4",
        package_sessions=4,
    )
    fee(
        users,
        "RPT",
        15000,
        FeeBasis.SERVICE,
        on=today - dt.timedelta(days=30),
        tax=TaxCategory.TAXABLE,
        description="Report for an insurer",
    )
    fee(
        users,
        "OHIP",
        9000,
        FeeBasis.PER_CONSULT,
        on=today - dt.timedelta(days=30),
        tax=TaxCategory.INSURED,
        description="Insured consult",
    )
    client = Client()
    html = client.get(reverse("public:costs")).content.decode()
    text = visible_text(html)
    assert f"Prices as of {today.isoformat()}" in text
    assert re.search(r"Ketamine session\s+\$450\.00\s+No HST", text)
    assert re.search(r"Ketamine series of 4\s+\$1,600\.00\s+No HST", text)
    assert re.search(r"Report for an insurer\s+\$150\.00\s+plus 13% HST", text)
    assert "Insured consult" not in text  # never billed to a patient
    assert "KET" not in text.replace("Ketamine", "")  # the fee code is not shown

    # A new price from today replaces the old one; one from tomorrow is not shown yet.
    fee(users, "KET", 47500, on=today, description="Ketamine session")
    fee(
        users,
        "PKG",
        170000,
        FeeBasis.PACKAGE,
        on=today + dt.timedelta(days=1),
        description="Ketamine series of 4",
        package_sessions=4,
    )
    text = visible_text(client.get(reverse("public:costs")).content.decode())
    assert re.search(r"Ketamine session\s+\$475\.00", text) and "$450.00" not in text
    assert "$1,600.00" in text and "$1,700.00" not in text


def test_costs_without_a_fee_schedule_say_so():
    text = visible_text(Client().get(reverse("public:costs")).content.decode())
    assert "has not published its prices yet" in text
    assert "not pay for ketamine or lidocaine infusions" in text  # OHIP


def test_no_public_page_shows_a_code_or_an_evidence_tag(users):
    fee(users, "DEMO-KET-SESSION", 45000, on=clinic_today(), description="Ketamine session")
    client = Client()
    found = []
    for name in ["home", *PAGES]:
        text = visible_text(client.get(reverse(name)).content.decode())
        for pattern in (RULE_ID, EVIDENCE_TAG, MODULE, FIELD_NAME):
            found += [(name, m) for m in pattern.findall(text)]
        found += [
            (name, "code") for _ in re.findall(r"DEMO-KET|\bper_session\b|exempt_health", text)
        ]
    assert found == []


def test_every_claim_with_a_source_points_to_a_listed_reference():
    client = Client()
    cited_somewhere = 0
    for name in PAGES:
        html = client.get(reverse(name)).content.decode()
        cited = {int(n) for n in re.findall(r'href="#ref-(\d+)"', html)}
        listed = {int(n) for n in re.findall(r'<li id="ref-(\d+)"', html)}
        assert cited == listed, name  # every number cited is listed, none listed unused
        assert listed == set(range(1, len(listed) + 1)), name  # numbered 1, 2, 3 ...
        cited_somewhere += len(cited)
    assert cited_somewhere >= 20
    # The pages the issue names carry their key facts with their sources.
    texts = {n: visible_text(client.get(reverse(n)).content.decode()) for n in PAGES}
    assert "NMDA" in texts["public:ketamine"]
    assert "12 weeks" in texts["public:relief"] and "lidocaine" in texts["public:relief"]
    for condition in ("CRPS", "shingles", "Fibromyalgia", "Diabetic"):
        assert condition in texts["public:conditions"], condition
    for route in ("intravenous", "oral", "subcutaneous", "transdermal", "spine: not offered"):
        assert route in texts["public:routes"], route
    for drug in ("acetaminophen", "NSAIDs", "muscle relaxants", "opioids"):
        assert drug in texts["public:chronic_pain"], drug


def test_the_infusion_day_page_tells_what_to_bring(settings):
    settings.INFUSION_WHAT_TO_BRING = "Your health card and a warm sweater."
    text = visible_text(Client().get(reverse("public:infusion_day")).content.decode())
    assert "Your health card and a warm sweater." in text
    assert "drive" in text and "take you home" in text


def test_the_clinic_publishes_its_own_text(settings, tmp_path):
    data = json.loads(content.DEMO_PATH.read_text(encoding="utf-8"))
    data["pages"]["index"]["lead"] = "Our own words for our patients [S2]."
    (tmp_path / content.FILE_NAME).write_text(json.dumps(data), encoding="utf-8")
    settings.PUBLIC_INFO_DIR = str(tmp_path)
    text = visible_text(Client().get(reverse("public:index")).content.decode())
    assert "Our own words for our patients." in text and "[S2]" not in text


def test_a_clinic_file_citing_an_unknown_source_is_refused(settings, tmp_path):
    data = json.loads(content.DEMO_PATH.read_text(encoding="utf-8"))
    data["pages"]["costs"]["sections"][0]["paragraphs"][0]["refs"] = ["nowhere"]
    (tmp_path / content.FILE_NAME).write_text(json.dumps(data), encoding="utf-8")
    settings.PUBLIC_INFO_DIR = str(tmp_path)
    with pytest.raises(content.ContentError, match="nowhere"):
        content.page("costs")


def test_the_demo_text_is_complete_and_untagged():
    raw = content.DEMO_PATH.read_text(encoding="utf-8")
    assert not EVIDENCE_TAG.search(raw)
    assert not re.search(r"TODO|TBD|lorem|\[placeholder", raw, re.IGNORECASE)
    for slug in content.PAGES:
        page = content.page(slug)
        assert page.title and page.sections, slug


def test_every_link_in_the_public_navigation_opens_without_signing_in():
    client = Client()
    html = client.get(reverse("public:costs")).content.decode()
    nav = html[html.index('<nav class="public-nav"') : html.index("</nav>")]
    links = re.findall(r'href="([^"]+)"', nav)
    assert "/refer/" in links and "/ask-to-be-seen/" in links
    assert reverse("accounts:login") in links
    for link in links:
        assert client.get(link).status_code == 200, link


def test_a_signed_in_reader_is_offered_the_way_back_not_the_sign_in(client_for):
    html = client_for(Role.NURSE).get(reverse("public:relief")).content.decode()
    assert "Back to your home page" in html and "Staff sign in" not in html
