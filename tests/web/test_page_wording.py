"""No internal code on a page a person reads, on a clinic with one of everything.

Every page every role may open is read as a browser shows it (the text between the tags, not
the attributes, scripts or styles), and must name no rule id (``KET-MISS-003``), no evidence
tag from the clinical reference (``[S]``, ``[S2]``, ``[U]``), no Python module
(``painclinic.pharmacology...``) and no snake_case field name of the drug library
(``rate_mg_per_kg_per_h``). Rule ids stay on the elements as ``data-rule`` for the audit trail
and the tests.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from painclinic.web.accounts.models import Role
from tests.web.world import access_matrix, client_as, url_of, url_patterns

pytestmark = pytest.mark.django_db

RULE_ID = re.compile(r"\b(?:KET|LID|DX|MISS|OUT|MON|CHK)(?:-[A-Z]+)*-\d{3}\b")
EVIDENCE_TAG = re.compile(r"\[(?:S|S2|U)\]")
MODULE = re.compile(r"\bpainclinic\.[a-z_]+")
FIELD_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+){2,}\b")


class VisibleText(HTMLParser):
    """The text a browser shows: no attributes, scripts, styles or comments."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def test_the_reader_sees_text_not_attributes():
    text = visible_text(
        '<li data-rule="KET-MISS-003">Pregnancy status unknown<script>x_y_z</script>'
    )
    assert text.strip() == "Pregnancy status unknown"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_no_page_shows_an_internal_code(role, world):
    matrix = access_matrix()
    client = client_as(world, role)
    found = []
    for route in url_patterns():
        if role not in matrix.get(route.name, set()):
            continue
        response = client.get(url_of(route.name, world), follow=True)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        text = visible_text(response.content.decode())
        for pattern in (RULE_ID, EVIDENCE_TAG, MODULE, FIELD_NAME):
            for match in pattern.findall(text):
                found.append((route.name, match))
    assert found == []


def test_taking_tags_out_escapes_text_once():
    from django.template import Context, Template

    rendered = Template(
        '{% load treatments_doses %}{{ notes|join:"; "|without_evidence_tags }}'
    ).render(Context({"notes": ["opentiva's estimate [S2]", "a < b [U]"]}))
    assert rendered == "opentiva&#x27;s estimate; a &lt; b"


def test_the_consent_wording_a_patient_signs_has_no_placeholder():
    """The shipped consent text is complete: no "confirm wording", no evidence tag shown."""
    import json

    from painclinic.web.lib.wording import without_evidence_tags
    from painclinic.web.treatments.services import CONSENT_TEXT_PATH

    text = json.loads(CONSENT_TEXT_PATH.read_text(encoding="utf-8"))
    shown = [text["coverage_statement"], text["estimate_note"]]
    for drug in text["drugs"].values():
        shown.append(drug["off_label_statement"])
        for risk in drug["risks"]:
            shown += [risk["text"], without_evidence_tags(risk["source"])]
    for words in shown:
        lowered = words.lower()
        assert "confirm wording" not in lowered and "general knowledge" not in lowered, words
        assert "[u]" not in lowered and "[s2]" not in lowered, words
