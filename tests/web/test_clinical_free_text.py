"""Front desk and billing see no clinical free text, on any page they can open.

Their roles exclude clinical notes (they see demographics, consents, bookings and invoices).
The world writes a unique marker into every free-text clinical field (correction and override
reasons, checklist notes, plan reasons and notes, observation notes, alert actions, adverse
event descriptions and reports, pause, stop and rate reasons, the session note and its
amendment, the cancellation's details, register waste, destruction, count and discrepancy
texts). Each role then opens every page its role may open for both patients and follows every
link on them; no marker may appear. The clinicians, who may read them, find every one.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urlsplit

import pytest

from painclinic.web.accounts.models import Role
from tests.web.world import (
    World,
    access_matrix,
    client_as,
    kwargs_for,
    url_patterns,
)

pytestmark = pytest.mark.django_db

NOT_FOLLOWED = ("/accounts/logout/", "/static/")
MAX_PAGES = 600


def start_urls(world: World, role: Role) -> list[str]:
    """Every URL the role may GET, for each of the two patients where the URL names one."""
    matrix = access_matrix()
    urls = []
    for route in url_patterns():
        if role not in matrix.get(route.name, set()):
            continue
        values = kwargs_for(route.name, world)
        urls.append(route.path(values))
        if "patient_id" in values:
            urls.append(route.path({**values, "patient_id": world.other.pk}))
    for session in (world.session, world.cancelled_session):
        urls.append(f"/scheduling/bookings/{session.booking_id}/")
    return urls


def crawl(world: World, role: Role) -> dict[str, str]:
    """Every page reachable for ``role`` from its start URLs by following links: path -> body."""
    client = client_as(world, role)
    queue = deque(start_urls(world, role))
    seen: set[str] = set()
    pages: dict[str, str] = {}
    while queue and len(seen) < MAX_PAGES:
        url = urlsplit(queue.popleft()).path
        if url in seen or url.startswith(NOT_FOLLOWED) or not url.startswith("/"):
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        if response.status_code in (301, 302):
            queue.append(response["Location"])
            continue
        if response.status_code != 200 or getattr(response, "streaming", False):
            continue
        if response.get("Content-Type", "").startswith("application/pdf"):
            # A receipt or statement: its text must carry no clinical note either.
            from tests.web.pdfs import pdf_text

            pages[url] = pdf_text(response.content)
            continue
        body = response.content.decode()
        pages[url] = body
        queue.extend(re.findall(r'(?:href|src|action)="(/[^"#]*)', body))
    assert len(seen) < MAX_PAGES, "the crawl did not end"
    return pages


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING], ids=lambda r: r.value)
def test_front_desk_and_billing_see_no_clinical_free_text(role, world):
    pages = crawl(world, role)
    assert len(pages) >= 8, sorted(pages)
    leaks = sorted(
        (field, url)
        for url, body in pages.items()
        for field, marker in world.markers.items()
        if marker in body
    )
    assert not leaks, leaks


# Stored but shown on no page at all today (the chart's observation rows leave the note out);
# listed so that the day it is shown, this test asks for the entry to go.
SHOWN_NOWHERE = {"observation.note"}


def test_the_clinicians_find_every_free_text_field(world):
    """The markers are on pages at all (so the test above could fail)."""
    found: set[str] = set()
    for role in (Role.PHYSICIAN, Role.NURSE):
        for body in crawl(world, role).values():
            found |= {field for field, marker in world.markers.items() if marker in body}
    assert found == set(world.markers) - SHOWN_NOWHERE, sorted(set(world.markers) ^ found)
