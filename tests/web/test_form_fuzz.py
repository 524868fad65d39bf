"""No input to any form ends in a server error (property-based, Hypothesis).

Every page with a form is opened as a role that may use it, on a record at the step where the
form acts (a scheduled infusion for the checklist, a running one for the observation ...).
The fields are read from the page itself; Hypothesis then posts, field by field, one of: a
value the page offers, random text, huge and tiny numbers, NaN and infinities, negative
numbers, numbers in other scripts, dates out of range, markup, NUL characters, empty values,
or nothing at all. Every answer must be below 500 (a message, a conflict, a redirect).

Search and report pages take their input from the query string and are fuzzed the same way
with GET. ``max_examples`` per form keeps the run near half a minute on two cores.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from painclinic.web.accounts.models import Role, User
from tests.conftest import PASSWORD, logged_in_client
from tests.web.world import Stages, World, build_stages, kwargs_for, url_patterns

pytestmark = pytest.mark.django_db

EXAMPLES = 6

ABSURD = [
    "",
    " ",
    "0",
    "-0",
    "-1",
    "-99999999999",
    "1e308",
    "-1e308",
    "1e999999",
    "1E+999999999",
    "NaN",
    "nan",
    "sNaN",
    "inf",
    "-Infinity",
    "0.000000000000000000001",
    "800",
    "80.0000000001",
    str(2**31),
    str(2**63),
    str(10**30),
    "9" * 400,
    "１２",  # full-width digits
    "٣٤",  # Arabic-Indic digits
    "½",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30T25:61",
    "23:59:60",
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '=HYPERLINK("http://x")',
    "🙂" * 40,
    "x" * 5000,
    "\r\n\t",
]
# Swept through every number field and every date field of every form, one field at a time,
# the rest of the form filled in sensibly: these reach the rules behind the first check.
NUMBER_SWEEP = ["800", "-1", "1e999999", str(2**63)]
DATE_SWEEP = {
    "datetime-local": ["9999-12-31T23:59", "0001-01-01T00:00"],
    "date": ["9999-12-31", "0001-01-01"],
    "time": ["23:59:60"],
}
NUMBER_NAME = re.compile(
    r"(_kg|_cm|_mmhg|_bpm|_per_min|_percent|_mg|_ml|_per_h|_value|count|vials|amount|score"
    r"|cents|_nrs|cadss6|version|_id|sessions|weeks|_h)$"
)

LATER_FORMSET_ROW = re.compile(r"-[1-9][0-9]*-")

_TAG = re.compile(r"<(input|textarea|select)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r'([a-zA-Z_:-]+)="([^"]*)"')
_SELECT = re.compile(r"<select\b([^>]*)>(.*?)</select>", re.IGNORECASE | re.DOTALL)
_OPTION = re.compile(r'<option\b[^>]*\bvalue="([^"]*)"', re.IGNORECASE)
SKIPPED_FIELDS = {"csrfmiddlewaretoken"}


@dataclass
class Field:
    kind: str  # the input's type: text, number, date, datetime-local, checkbox, select ...
    offered: list[str] = dc_field(default_factory=list)  # values the page itself offers

    @property
    def is_number(self) -> bool:
        return self.kind == "number"


_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)


def forms_of(page: str, url: str, method: str) -> str:
    """The markup of the page's forms that send ``method`` to ``url`` (the page itself)."""
    found = []
    for attributes, body in _FORM.findall(page):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR.findall(attributes)}
        action = attrs.get("action", "").split("#")[0].split("?")[0]
        if attrs.get("method", "get").lower() == method and action in ("", url):
            found.append(body)
    return "\n".join(found)


def form_fields(page: str) -> dict[str, Field]:
    """The fields in ``page`` (markup), with the values the page offers for each."""
    fields: dict[str, Field] = {}
    for tag, attributes in _TAG.findall(page):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR.findall(attributes)}
        name = attrs.get("name")
        kind = attrs.get("type", "text") if tag.lower() == "input" else tag.lower()
        if not name or name in SKIPPED_FIELDS or kind in ("submit", "button"):
            continue
        field = fields.setdefault(name, Field(kind))
        if kind in ("checkbox", "radio"):
            field.offered.append(attrs.get("value", "on"))
        elif "value" in attrs:
            field.offered.append(attrs["value"])
    for attributes, body in _SELECT.findall(page):
        name = dict(_ATTR.findall(attributes)).get("name")
        if name:
            options = [html.unescape(v) for v in _OPTION.findall(body)]
            fields.setdefault(name, Field("select")).offered.extend(options)
    for name, field in fields.items():
        if field.kind == "text" and NUMBER_NAME.search(name):
            field.kind = "number"
    return fields


SENSIBLE = [  # (pattern in the field's name, a value a careful user would type)
    ("systolic", "128"),
    ("diastolic", "78"),
    ("heart_rate", "72"),
    ("respiratory", "14"),
    ("spo2", "98"),
    ("weight_kg", "80.0"),
    ("height_cm", "170"),
    ("pump_rate", "25"),
    ("dose_value", "25"),
    ("drawn_mg", "100"),
    ("amount_mg", "5"),
    ("vial_volume", "10"),
    ("vial_count", "2"),
    ("full_vials", "1"),
    ("open_vial", "0"),
    ("cadss6", "0"),
    ("pain_nrs", "3"),
    ("score", "5"),
    ("amount", "450.00"),
    ("password", PASSWORD),
    ("phone", "416-555-0101"),
    ("lot", "KX123"),
    ("postal", "M5V 2T6"),
    ("health_card_number", "9876543217"),
    ("token", "123456"),
    ("username", "new.staff"),
    ("email", "staff@clinic.example"),
    ("name", "Sam Tester"),
]


def sensible(name: str, field: Field) -> str | None:
    """What a careful user would enter (None: leave it out)."""
    now = timezone.localtime()
    if field.kind in ("checkbox", "radio", "select", "hidden"):
        values = [v for v in field.offered if v]
        return values[0] if values else (field.offered[0] if field.offered else None)
    if field.offered and field.offered[0]:
        return field.offered[0]
    if field.kind == "datetime-local":
        hours = 8 if "solids" in name else 3 if "fluids" in name else 0
        return (now - dt.timedelta(hours=hours, minutes=1)).strftime("%Y-%m-%dT%H:%M")
    if field.kind == "date":
        days = 365 if "expiry" in name else 0
        return (now + dt.timedelta(days=days)).date().isoformat()
    if field.kind == "time":
        return "09:00"
    for part, value in SENSIBLE:
        if part in name:
            return value
    return "1" if field.is_number else "Fuzzed but ordinary text"


def value_strategy(field: Field) -> st.SearchStrategy[str | None]:
    choices: list[st.SearchStrategy[Any]] = [
        st.sampled_from(ABSURD),
        st.text(max_size=30),
        st.integers(min_value=-(10**40), max_value=10**40).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.none(),  # the field left out
    ]
    if field.offered:
        choices.insert(0, st.sampled_from(field.offered))
    return st.one_of(*choices)


def inputs_for(
    fields: dict[str, Field], baseline: dict[str, str]
) -> st.SearchStrategy[dict[str, str]]:
    """A sensible form with one to three fields changed, or every field random."""

    def changed(replacements: dict[str, str | None]) -> dict[str, str]:
        data = {**baseline, **replacements}
        return {k: v for k, v in data.items() if v is not None}

    names = sorted(fields)
    some = st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({n: value_strategy(fields[n]) for n in chosen})
    )
    every = st.fixed_dictionaries({n: value_strategy(f) for n, f in fields.items()})
    return st.one_of(some.map(changed), every.map(changed))


class _Undo(Exception):
    """Raised to roll back what one fuzzed request saved (each starts from the same records)."""


def sent(send: Callable[..., Any], url: str, data: dict[str, str]) -> Any:
    """``send(url, data)``'s response, with everything it wrote rolled back."""
    try:
        with transaction.atomic():
            response = send(url, data)
            if response.streaming:  # the CSV export writes its rows while it is read
                b"".join(response.streaming_content)
            raise _Undo(response)
    except _Undo as undo:
        return undo.args[0]


def fuzz(client: Client, url: str, what: str, *, method: str = "post") -> int:
    """Send the page's form (or query) with bad values; every answer below 500. Returns the
    number of requests sent."""
    page = client.get(url)
    assert page.status_code < 500, (what, page.status_code)
    shown = page.status_code == 200 and not page.streaming
    fields = form_fields(forms_of(page.content.decode(), url, method)) if shown else {}
    fields.setdefault("expected_version", Field("hidden"))
    baseline = {n: v for n, f in fields.items() if (v := sensible(n, f)) is not None}
    send = getattr(client, method)
    count = 0

    def check(data: dict[str, str]) -> None:
        nonlocal count
        count += 1
        status = sent(send, url, data).status_code
        assert status < 500, (what, status, data)

    check(baseline)
    for name, field in fields.items():
        if LATER_FORMSET_ROW.search(name):
            continue  # the first row of a formset stands for the others
        sweep = NUMBER_SWEEP if field.is_number else DATE_SWEEP.get(field.kind, ())
        for value in sweep:
            check({**baseline, name: value})

    @hypothesis_settings(max_examples=EXAMPLES)
    @given(data=inputs_for(fields, baseline))
    def one(data: dict[str, str]) -> None:
        check(data)

    one()
    return count


# --- which record each form acts on, and who uses it -------------------------------------------


def _client(world: World, who: Role | str | None) -> Client:
    if who is None:
        return Client()
    user = world.users[who] if isinstance(who, Role) else User.objects.get(username=who)
    return logged_in_client(user)


def _url(name: str, world: World, **override: Any) -> str:
    route = next(r for r in url_patterns() if r.name == name)
    return route.path({**kwargs_for(name, world), **override})


Target = tuple[str, Role | str | None, Callable[[World, Stages], str]]

P, N, F, B, A = Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN


def _session(stage: str) -> Callable[[World, Stages], dict[str, Any]]:
    return lambda world, stages: {"session_id": getattr(stages, stage).pk}


INFUSION_FORMS: dict[str, tuple[Role | str, Callable[[World, Stages], dict[str, Any]]]] = {
    "infusions:open": (N, lambda w, s: {"booking_id": s.unopened.pk}),
    "infusions:checklist": (N, _session("scheduled")),
    "infusions:prepare": (N, _session("checklist")),
    "infusions:double_check": ("rn_world", _session("prepared")),
    "infusions:start": (N, _session("checked")),
    "infusions:pause": (N, _session("running")),
    "infusions:rate_change": (N, _session("running")),
    "infusions:observe": (N, _session("running")),
    "infusions:acknowledge": (
        N,
        lambda w, s: {"session_id": s.running.pk, "alert_id": s.alert.pk},
    ),
    "infusions:adverse_event": (N, _session("running")),
    "infusions:resume": (N, _session("paused")),
    "infusions:stop": (N, _session("running")),
    "infusions:discharge": (N, _session("stopped")),
    "infusions:waste": (N, _session("stopped")),
    "infusions:note": (P, _session("stopped")),
    "infusions:amend": (P, lambda w, s: {"session_id": w.session.pk}),
    "infusions:cancel": (N, _session("scheduled")),
    "infusions:mark_reported": (P, lambda w, s: {"event_id": s.serious_event.pk}),
    "drugregister:waste": (N, _session("stopped")),
    "infusions:open_off_day": (P, lambda w, s: {"booking_id": s.unopened.pk}),
}
# Only the pages this version of the code has.
INFUSION_FORMS = {k: v for k, v in INFUSION_FORMS.items() if k in {r.name for r in url_patterns()}}

FORMS: dict[str, list[tuple[str, Role | None, dict[str, Any]]]] = {
    "accounts": [
        ("accounts:login", None, {}),
        ("accounts:password_change", N, {}),
        ("accounts:two_factor_setup", N, {}),
        ("accounts:two_factor_verify", A, {}),
        ("accounts:staff_create", A, {}),
        ("accounts:staff_role", A, {}),
        ("accounts:staff_password_reset", A, {}),
    ],
    "patients": [
        ("patients:register", F, {}),
        ("patients:edit", F, {}),
        ("patients:weight_add", N, {}),
        ("patients:weight_correct", N, {}),
        ("patients:consent_add", F, {}),
    ],
    "assessments": [
        ("assessments:new", P, {"instrument": "nrs"}),
        ("assessments:new", P, {"instrument": "phq9"}),
        ("assessments:new", P, {"instrument": "budapest"}),
        ("assessments:new", P, {"instrument": "bpi"}),
        ("assessments:correct", P, {}),
        ("assessments:eligibility", P, {}),
        ("assessments:resolve_item", P, {}),
        ("assessments:cosign_decision", P, {}),
    ],
    "treatments": [
        ("treatments:consent_new", P, {}),
        ("treatments:consent_withdraw", P, {}),
        ("treatments:plan_new", P, {}),
        ("treatments:plan_cosign", P, {}),
        ("treatments:plan_cancel", P, {}),
        ("treatments:fees", B, {}),
        ("treatments:fee_deactivate", B, {}),
    ],
    "scheduling": [
        ("scheduling:chairs", A, {}),
        ("scheduling:chair_edit", A, {}),
        ("scheduling:book_series", F, {}),
        ("scheduling:booking", F, {}),
    ],
    "outcomes": [
        ("outcomes:patient", P, {}),
    ],
    "drugregister": [
        ("drugregister:receive", N, {}),
        ("drugregister:count", N, {}),
        ("drugregister:resolve", P, {}),
        ("drugregister:destroy", N, {}),
    ],
    "followup": [
        ("followup:question", Role.PATIENT, {}),
        ("followup:review", Role.PATIENT, {}),
    ],
    "worklist": [
        ("worklist:task", P, {}),
    ],
    "referrals": [
        ("referrals:physician_form", None, {}),
        ("referrals:self_form", None, {}),
        ("referrals:detail", F, {}),
    ],
    "billing": [
        ("billing:patient", B, {}),
        ("billing:invoice", B, {}),
        ("billing:day", B, {}),
        ("billing:payers", B, {}),
    ],
}

# Pages that read their input from the query string.
QUERY_FORMS = [
    ("patients:search", F, {}),
    ("audit:report", A, {}),
    ("audit:export", A, {}),
    ("scheduling:board", F, {}),
    ("drugregister:entries", N, {}),
    ("treatments:plan_new", P, {}),
    ("treatments:consent_new", P, {}),
    ("assessments:eligibility", P, {}),
    ("billing:reports", B, {}),
]


def test_every_form_page_is_fuzzed():
    """A new page with a form joins a list here (or the POST-only open button)."""
    covered = {n for forms in FORMS.values() for n, _, _ in forms} | set(INFUSION_FORMS)
    read_only_or_post_only = {
        "home",
        "public:index",
        "public:chronic_pain",
        "public:ketamine",
        "public:routes",
        "public:conditions",
        "public:relief",
        "public:costs",
        "public:infusion_day",
        "healthz",
        # The language switch: one choice from a fixed list (tests/web/test_french.py).
        "set_language",
        "accounts:logout",
        "accounts:ping",
        "accounts:staff_list",
        "portal:home",
        "portal:consent",
        "portal:access_log",
        "followup:patient",
        "followup:start",
        "followup:done",
        # The link's pages need the session a working link opens (tests/web/followup).
        "link:open",
        "link:question",
        "link:review",
        "link:done",
        "patients:detail",
        "patients:history",
        "assessments:patient",
        "assessments:result",
        "assessments:decision",
        "treatments:patient",
        "treatments:consent",
        "treatments:plan",
        "scheduling:patient",
        "infusions:session",
        "infusions:concentration_chart",
        "infusions:serious_events",
        "infusions:serious_events_to_report",
        "drugregister:home",
        "drugregister:discrepancies",
        "outcomes:dashboard",
        "outcomes:export",
        "worklist:home",
        "worklist:today",
        "scheduling:board_grid",
        "billing:home",
        "referrals:queue",
        "referrals:letter",
        "referrals:physician_thanks",
        "referrals:self_thanks",
        "billing:statement",
        "billing:invoice_pdf",
        "billing:statement_pdf",
        "portal:invoices",
        "portal:receipt_pdf",
        "portal:statement_pdf",
    } | {n for n, _, _ in QUERY_FORMS}
    assert {r.name for r in url_patterns()} - covered - read_only_or_post_only == set()


@pytest.mark.parametrize("area", sorted(FORMS))
def test_no_form_input_ends_in_a_server_error(area, world):
    for name, role, override in FORMS[area]:
        fuzz(_client(world, role), _url(name, world, **override), name)


def test_no_infusion_day_form_input_ends_in_a_server_error(world):
    stages = build_stages(world)
    for name, (who, ids) in INFUSION_FORMS.items():
        fuzz(_client(world, who), _url(name, world, **ids(world, stages)), name)


def test_no_query_string_ends_in_a_server_error(world):
    for name, role, override in QUERY_FORMS:
        url = _url(name, world, **override)
        fuzz(_client(world, role), url, f"{name} (query)", method="get")
