"""Hostile text in names and free text never comes out of a page as markup.

The chart's observation rows, due list and event log and the chair board's grid are built in
Python (``html.escape``, then ``mark_safe``) rather than by template loops; the session's
concentration curve is SVG text built in Python; the plan's charts are SVG made by matplotlib
and shown as data URIs. Each is fed names and charted text full of markup here, rendered
through the test client as the role that reads it, and must show the text escaped, never as
markup.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from painclinic.web.accounts.models import Role, User
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import ObservationInput, PauseInput, StopInput
from painclinic.web.infusions.models import Observation
from painclinic.web.patients.models import Patient
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair
from tests.web.infusions.conftest import (
    fresh,
    make_booking,
    make_plan,
    make_request,
    register_stock,
    run_to,
)
from tests.web.scheduling.factories import make_booking as make_board_booking
from tests.web.scheduling.factories import make_chair, make_session, next_weekday
from tests.web.scheduling.factories import make_plan as make_board_plan

pytestmark = pytest.mark.django_db
__all__ = ["register_stock"]  # the controlled-drug stock the bag is drawn from (autouse)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
AMP = "Fish &amp; Chips"  # must show as the eight characters "&amp;", not as "&"
QUOTES = 'O\'Hara "Red"'
TEXTAREA = "</textarea><b>x</b>"
HOSTILE = (SCRIPT, IMG, AMP, QUOTES, TEXTAREA)
# What must never reach the page as it was typed: live markup, or an entity that would display
# as "&" (the text "&amp;" shown as "&" means it was not escaped).
RAW = ("<script>alert(1)", "<img src=x", "</textarea><b>", "Fish &amp; Chips", QUOTES)


def assert_escaped(html: str, *texts: str) -> None:
    """No hostile text raw anywhere in ``html``; each of ``texts`` there, escaped."""
    for raw in RAW:
        assert raw not in html, f"unescaped {raw!r} in the page"
    for text in texts:
        assert escape(text) in html, f"{text!r} is not shown (escaped)"


def section(html: str, start: str, end: str) -> str:
    """The part of ``html`` from the first ``start`` to the next ``end`` after it."""
    i = html.index(start)
    return html[i : html.index(end, i)]


def hostile_patient(patient: Patient) -> Patient:
    patient.legal_given_name = SCRIPT
    patient.legal_family_name = IMG
    patient.preferred_name = AMP + " " + QUOTES
    patient.save()
    return patient


def hostile_user(user: User) -> User:
    user.first_name = QUOTES
    user.last_name = TEXTAREA + " " + SCRIPT
    user.save()
    return user


def hostile_chair(name: str = "Chair 1") -> Chair:
    chair, _ = Chair.objects.get_or_create(name=name)
    chair.name = TEXTAREA + AMP  # 33 characters, within the 60 a name may have
    chair.save()
    return chair


# --- the infusion chart --------------------------------------------------------------------


@pytest.fixture
def charted(users, patient):
    """A stopped ketamine session of a hostile-named patient, in a hostile-named chair, charted
    by a hostile-named nurse: observations, a pause and a stop whose reasons are markup."""
    nurse = hostile_user(users[Role.NURSE])
    nurse2 = User.objects.create_user(
        "rn_second", password="x-long-enough-password-1", role=Role.NURSE, first_name=IMG
    )
    hostile_patient(patient)
    plan = make_plan(patient, users[Role.PHYSICIAN])
    booking = make_booking(plan, users[Role.FRONT_DESK])
    hostile_chair()
    session = services.do_open_session(make_request(nurse), booking.pk)
    start = timezone.now() - dt.timedelta(minutes=50)
    s = run_to(session, "running", nurse, nurse2, start_at=start)
    for minutes in (0, 15):
        s = fresh(session)
        services.do_record_observation(
            make_request(nurse),
            s.pk,
            s.version,
            ObservationInput(
                observed_at=start + dt.timedelta(minutes=minutes),
                systolic_bp_mmhg=125,
                diastolic_bp_mmhg=75,
                heart_rate_bpm=72,
                respiratory_rate_per_min=14,
                spo2_percent=98,
                rass=0,
            ),
        )
    s = fresh(session)
    at = start + dt.timedelta(minutes=20)
    services.do_pause(make_request(nurse), s.pk, s.version, PauseInput(at, " ".join(HOSTILE)))
    s = fresh(session)
    at = start + dt.timedelta(minutes=25)
    services.do_stop(make_request(nurse), s.pk, s.version, StopInput(at, IMG + TEXTAREA))
    # A symptom is a code from the form's list; a stored one is still only text to the chart.
    Observation.objects.filter(session=session).update(symptoms=[SCRIPT, AMP])
    return fresh(session)


@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN])
def test_the_chart_escapes_names_and_charted_text(charted, client_for, role):
    assert charted.status == "stopped"
    response = client_for(role).get(reverse("infusions:session", args=[charted.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    nurse_name = f"{QUOTES} {TEXTAREA} {SCRIPT}"
    assert_escaped(html, SCRIPT, IMG, AMP, QUOTES, TEXTAREA, nurse_name)
    # The banner (template): the patient's names and the chair's.
    assert escape(f"{IMG}, {SCRIPT} ({AMP} {QUOTES})") in html
    assert escape(TEXTAREA + AMP) in html
    # The observation rows (Python): the symptoms and who recorded each row.
    rows = section(html, '<table class="compact inf-obs">', "</table>")
    assert rows.count("<tr") == 3  # the header and the two observations
    assert escape(f"{SCRIPT}, {AMP}") in rows and escape(nurse_name) in rows
    assert "<script" not in rows and "<b>" not in rows
    # The event log (Python): the pause and stop reasons, and the nurse's name on each line.
    log = section(html, '<ol class="inf-log"', "</ol>")
    assert escape("Paused: " + " ".join(HOSTILE)) in log
    assert escape(IMG + TEXTAREA) in log and escape(nurse_name) in log
    assert "<script" not in log and "<img" not in log and "<b>" not in log
    # The due list (Python): only our own states and times, as list items.
    due = section(html, '<ol class="inf-due">', "</ol>")
    assert due.count("<li") >= 2 and "<script" not in due


def test_the_concentration_svg_is_well_formed_with_nothing_hostile_in_it(charted, client_for):
    response = client_for(Role.NURSE).get(
        reverse("infusions:concentration_chart", args=[charted.pk])
    )
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    ET.fromstring(svg)  # noqa: S314 (our own page) every text escaped: it parses as XML
    for text in HOSTILE:
        assert text not in svg and escape(text) not in svg  # no name or free text in a chart


# --- the chair board -----------------------------------------------------------------------


@pytest.fixture
def board_day(users, patient):
    """A hostile-named patient with a booking (chart open) and a cancelled booking whose
    reason is markup, in a hostile-named chair, on a weekday the chair is open."""
    hostile_patient(patient)
    chair = make_chair("Hostile chair")
    chair.name = SCRIPT + IMG  # 56 characters
    chair.save()
    day = next_weekday(2)
    desk = users[Role.FRONT_DESK]
    plan = make_board_plan(patient, users[Role.PHYSICIAN])
    booked = make_board_booking(patient, chair, desk, day, "09:00", plan=plan)
    make_session(booked)
    cancelled = make_board_booking(patient, chair, desk, day, "14:00", minutes=60)
    Booking.objects.filter(pk=cancelled.pk).update(
        status=BookingStatus.CANCELLED, cancel_reason=TEXTAREA + " " + AMP + " " + QUOTES
    )
    return day


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN])
def test_the_chair_board_escapes_names_and_reasons(board_day, client_for, role):
    response = client_for(role).get(reverse("scheduling:board"), {"date": board_day.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert_escaped(html, SCRIPT, IMG, AMP, QUOTES, TEXTAREA)
    # The grid (Python): the card carries the patient's name, escaped, as its only text.
    cards = re.findall(r'<div class="bcard">.*?</td>', html, flags=re.S)
    assert len(cards) == 1
    assert escape(f"{IMG}, {SCRIPT} ({AMP} {QUOTES})") in cards[0]
    assert "<script" not in cards[0] and "<img" not in cards[0]
    # The chair's column heading and the cancelled list (template).
    assert escape(SCRIPT + IMG) in html
    assert escape(TEXTAREA + " " + AMP + " " + QUOTES) in html


# --- the plan's charts ---------------------------------------------------------------------


def test_the_plan_page_and_its_svg_charts_escape_the_patients_names(users, patient, client_for):
    hostile_patient(patient)
    plan = make_plan(patient, users[Role.PHYSICIAN])
    response = client_for(Role.PHYSICIAN).get(reverse("treatments:plan", args=[plan.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert_escaped(html, SCRIPT, IMG, AMP, QUOTES)
    uris = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    assert uris, "the plan page shows its charts"
    for uri in uris:
        svg = base64.b64decode(uri).decode()
        ET.fromstring(svg)  # noqa: S314 (our own page): it parses as XML
        assert all(text not in svg for text in HOSTILE) and "<script" not in svg
