"""English and French (issue #14 item 8): what patients read is in French when they choose it.

The language switch (Django's set_language at /i18n/setlang/) stores the choice in the language
cookie; every page after it is in that language, and switching back gives English again. The
portal home, the invoices page, the self-referral form and the public pages are checked for key
French phrases, money and dates as a French reader writes them, and no page a patient or a
visitor can reach fails in French.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from painclinic.web.accounts.models import Role
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.public import content
from painclinic.web.treatments.models import FeeBasis, TaxCategory
from painclinic.web.treatments.services import FeeItemInput, do_add_fee_item
from tests.conftest import actor_as
from tests.web.billing.test_portal_receipts import invoices  # noqa: F401 - fixture
from tests.web.followup.test_pages import due_now, granted, run_tick, today, worker  # noqa: F401
from tests.web.test_page_wording import EVIDENCE_TAG, visible_text

pytestmark = pytest.mark.django_db

FR = "fr-ca"
NBSP = "\u00a0"


def in_french(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = FR
    return client


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return visible_text(response.content.decode()).replace("&#x27;", "'")


@pytest.fixture(autouse=True)
def fresh_content():
    content._load.cache_clear()
    content._load_translation.cache_clear()
    yield


# --- the switch ---------------------------------------------------------------------------------


def test_the_switch_remembers_french_then_english_again():
    client = Client()
    assert 'lang="en-ca"' in client.get("/").content.decode()
    switched = client.post(reverse("set_language"), {"language": FR, "next": "/info/costs/"})
    assert switched.status_code == 302 and switched["Location"] == "/info/costs/"
    cookie = switched.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == FR and int(cookie["max-age"]) >= 300 * 24 * 3600  # remembered
    # Every later page is in French, without asking again.
    home = client.get("/").content.decode()
    assert 'lang="fr-ca"' in home and "Perfusions de kétamine et de lidocaïne" in home
    # The switch offers the other language, labelled in that language.
    assert 'value="en-ca" lang="en-ca">English</button>' in home
    # The switch comes back to the page it is on (its address carries the page, with its query).
    assert 'action="/i18n/setlang/?next=/info/costs/%3Fa%3D1"' in client.get(
        "/info/costs/?a=1"
    ).content.decode().replace("&amp;", "&")
    again = client.post(reverse("set_language") + "?next=/info/costs/", {"language": FR})
    assert again["Location"] == "/info/costs/"
    back = client.post(reverse("set_language"), {"language": "en-ca", "next": "/"})
    assert back.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en-ca"
    page = client.get("/").content.decode()
    assert 'lang="en-ca"' in page and "Ketamine and lidocaine infusions" in page
    assert 'value="fr-ca" lang="fr-ca">Français</button>' in page


def test_the_switch_refuses_an_outside_address_and_an_unknown_language():
    client = Client()
    away = client.post(reverse("set_language"), {"language": FR, "next": "https://evil.example/"})
    assert away["Location"] == "/"
    unknown = client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert settings.LANGUAGE_COOKIE_NAME not in unknown.cookies
    # Only a POST (with the page's CSRF token in a browser) changes the language.
    assert client.get(reverse("set_language"), {"language": FR}).status_code == 405


def test_a_signed_in_patient_switches_and_the_portal_follows(client_for, own_patient):
    client = client_for(Role.PATIENT)
    assert "My record" in text_of(client.get(reverse("portal:home")))
    switched = client.post(
        reverse("set_language"), {"language": FR, "next": reverse("portal:home")}
    )
    assert switched["Location"] == reverse("portal:home")
    assert "Mon dossier" in text_of(client.get(reverse("portal:home")))


def test_a_browser_asking_for_french_gets_french_until_the_switch_says_otherwise():
    client = Client(HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9")
    assert "En bref" in text_of(client.get("/"))
    client.post(reverse("set_language"), {"language": "en-ca", "next": "/"})
    assert "In short" in text_of(client.get("/"))


# --- what patients read ---------------------------------------------------------------------------


def test_the_portal_home_in_french_with_french_dates(due_now, client_for):  # noqa: F811
    client = in_french(client_for(Role.PATIENT))
    text = text_of(client.get(reverse("portal:home")))
    for phrase in (
        "Mon dossier",
        "Mes questionnaires",
        "Mes prochains rendez-vous",
        "Ma douleur au fil du temps",
        "Mes renseignements",
        "Date de naissance",
        "Mes factures et reçus",
        "Voir qui a consulté ou modifié mon dossier",
    ):
        assert phrase in text, phrase
    assert "My questionnaires" not in text and "My details" not in text
    # The page's frame too: skip link, navigation, sign out, footer.
    for phrase in ("Passer au contenu principal", "Qui a consulté mon dossier", "Se déconnecter"):
        assert phrase in text, phrase
    # The due date is written the French way (weekday and month in French).
    with translation.override(FR):
        due = date_format(due_now.due_on, "l j F")
    assert f"À remplir d'ici le {due}" in text
    assert due.split()[0] in {
        "lundi",
        "mardi",
        "mercredi",
        "jeudi",
        "vendredi",
        "samedi",
        "dimanche",
    }
    # The date of birth stays YYYY-MM-DD in every language.
    assert due_now.patient.date_of_birth.isoformat() in text


def test_the_invoices_page_in_french_with_french_money(invoices, client_for):  # noqa: F811
    mine, _theirs = invoices
    client = in_french(client_for(Role.PATIENT))
    text = text_of(client.get(reverse("portal:invoices")))
    for phrase in ("Factures et reçus", "Mes factures", "Relevés annuels", "RAMO", "Émise le"):
        assert phrase in text, phrase
    assert "Facture " in text or "Reçu " in text  # the document's name
    total = mine.total_cents
    french = f"{total // 100:,}".replace(",", NBSP) + f",{total % 100:02d}{NBSP}$"
    assert french in text, french
    assert f"${total // 100}" not in text  # not the English way
    # The issue date stays YYYY-MM-DD.
    assert mine.issued_on.isoformat() in text
    english = text_of(client_for(Role.PATIENT).get(reverse("portal:invoices")))
    assert "Invoices and receipts" in english and f"${total // 100:,}." in english


def test_the_self_referral_form_in_french():
    client = in_french(Client())
    text = text_of(client.get(reverse("referrals:self_form")))
    for phrase in (
        "Demander un rendez-vous à la clinique de la douleur",
        "Quelques questions sur votre santé",
        "Êtes-vous enceinte, ou pourriez-vous l'être?",
        "Je ne sais pas",
        "Syndrome douloureux régional complexe (SDRC)",
        "Prochaines étapes",
        "Envoyer ma demande",
    ):
        assert phrase in text, phrase
    # Read in French, the form offers French as the preferred language; in English, English.
    assert (
        '<option value="fr" selected>'
        in client.get(reverse("referrals:self_form")).content.decode()
    )
    english = Client().get(reverse("referrals:self_form")).content.decode()
    assert '<option value="en" selected>' in english


def test_the_self_referral_refuses_in_french_and_accepts_only_iso_dates():
    client = in_french(Client())
    refused = client.post(reverse("referrals:self_form"), {"date_of_birth": "17/05/1970"})
    assert refused.status_code == 400
    text = visible_text(refused.content.decode()).replace("&#x27;", "'")
    assert "Rien n'a encore été envoyé" in text
    assert "AAAA-MM-JJ" in text  # the date asked for as YYYY-MM-DD, in French words


def test_the_public_home_and_costs_in_french_with_french_prices(users):
    do_add_fee_item(
        actor_as(users[Role.CLINIC_ADMIN]),
        FeeItemInput(
            code="KET-IV",
            description="Ketamine infusion",
            amount_cents=123_456,
            basis=FeeBasis.PER_SESSION,
            effective_from=clinic_today() - dt.timedelta(days=1),
            tax_category=TaxCategory.EXEMPT_HEALTH,
        ),
    )
    client = in_french(Client())
    home = text_of(client.get("/"))
    for phrase in ("Perfusions de kétamine et de lidocaïne", "En bref", "RAMO", "Coûts"):
        assert phrase in home, phrase
    costs = text_of(client.get(reverse("public:costs")))
    assert "Nos prix" in costs and "Taxes et assurances" in costs
    assert f"1{NBSP}234,56{NBSP}$" in costs
    assert f"Prix en vigueur le {clinic_today().isoformat()}." in costs


def test_the_sign_in_and_error_pages_in_french():
    client = in_french(Client())
    login = text_of(client.get(reverse("accounts:login")))
    assert "Se connecter" in login and "Mot de passe" in login
    missing = client.get("/info/nowhere/")
    assert missing.status_code == 404 and "Page introuvable" in missing.content.decode()


def test_every_public_page_is_in_french_with_the_same_claims_and_sources():
    english = json.loads(content.DEMO_PATH.read_text(encoding="utf-8"))["pages"]
    french = json.loads(content.translation_path("fr").read_text(encoding="utf-8"))["pages"]
    assert set(french) == set(content.PAGES)

    def sources(page):
        return [
            claim["refs"]
            for section in page["sections"]
            for kind in ("paragraphs", "items")
            for claim in section.get(kind, [])
        ]

    for slug in content.PAGES:
        # Each French claim cites what its English claim cites, in the same order.
        assert sources(french[slug]) == sources(english[slug]), slug
    client = in_french(Client())
    for slug in content.PAGES:
        html = client.get(reverse(f"public:{slug}")).content.decode()
        assert french[slug]["title"] in html.replace("&#x27;", "'"), slug
        assert "pas encore offerte en français" not in html, slug


def test_a_page_not_yet_translated_says_so_and_is_marked_english(settings, tmp_path):
    # A clinic's own text with a French file that has only the home page.
    (tmp_path / content.FILE_NAME).write_text(
        content.DEMO_PATH.read_text(encoding="utf-8"), encoding="utf-8"
    )
    french = json.loads(content.translation_path("fr").read_text(encoding="utf-8"))
    french["pages"] = {"index": french["pages"]["index"]}
    (tmp_path / "public_info.fr.json").write_text(json.dumps(french), encoding="utf-8")
    settings.PUBLIC_INFO_DIR = str(tmp_path)
    client = in_french(Client())
    home = client.get("/").content.decode()
    assert "Perfusions de kétamine" in home and "pas encore offerte" not in home
    html = client.get(reverse("public:chronic_pain")).content.decode()
    assert "Cette page n'est pas encore offerte en français" in html
    assert re.search(r'<h1 lang="en">Chronic pain', html)
    assert "Ask to be seen" not in visible_text(html)  # the navigation is French
    assert "Demander un rendez-vous" in visible_text(html)


def test_the_reminder_email_is_in_english_and_in_french(due_now, users):  # noqa: F811
    granted(due_now.patient, today() - dt.timedelta(days=20), users[Role.FRONT_DESK])
    run_tick(worker(), now=to_utc(today(), dt.time(11, 0)))
    message = mail.outbox[0]
    assert "Your follow-up questionnaire is ready" in message.subject
    assert "Votre questionnaire de suivi est prêt" in message.subject
    assert "please complete it by" in message.body
    with translation.override(FR):
        closes = date_format(due_now.closes_on, "l j F Y")
    assert f"veuillez le remplir d'ici le {closes}" in message.body
    assert "9-8-8" in message.body.split("----------")[1]  # the crisis line in French too


# --- no page fails in French ---------------------------------------------------------------

PUBLIC_PAGES = [
    "/",
    *(reverse(f"public:{slug}") for slug in content.PAGES),
    "/ask-to-be-seen/",
    "/refer/",
    "/accounts/login/",
]


def test_no_public_page_fails_in_french():
    visitor = in_french(Client())
    for url in PUBLIC_PAGES:
        response = visitor.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'lang="fr-ca"' in html, url
        assert not EVIDENCE_TAG.search(visible_text(html)), url


def test_no_portal_page_fails_in_french(invoices, client_for, own_patient):  # noqa: F811
    patient = in_french(client_for(Role.PATIENT))
    mine = invoices[0]
    urls = [
        reverse("portal:home"),
        reverse("portal:invoices"),
        reverse("portal:access_log"),
        reverse("portal:receipt_pdf", kwargs={"invoice_id": mine.pk}),
        reverse("portal:statement_pdf", kwargs={"year": timezone.localdate().year}),
        *(reverse("portal:consent", args=[c.pk]) for c in own_patient.consents.all()),
    ]
    for url in urls:
        response = patient.get(url)
        assert response.status_code == 200, url
        if response["Content-Type"].startswith("text/html"):
            assert 'lang="fr-ca"' in response.content.decode(), url


def test_the_questionnaire_screens_are_french_around_the_instruments(due_now, client_for):  # noqa: F811
    patient = in_french(client_for(Role.PATIENT))
    start = patient.get(reverse("followup:start", args=[due_now.pk]))
    question = text_of(patient.get(start["Location"]))
    assert "Question 1 sur 25" in question and "Enregistrer et continuer" in question
    # The instrument's own wording stays as validated (English): no unvalidated translation.
    assert "How much pain do you have right now?" in question
