"""Deny by default: every URL × every role, and anonymous visitors."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)
EVERYONE = {P, N, F, B, A, T}
STAFF = {P, N, F, B, A}

# Expected GET access per URL name. Each area's tests declare their own ``URL_MATRIX`` (in any
# module under tests/web); a URL that appears in none of them fails the completeness test.
URL_MATRIX: dict[str, set[Role]] = {
    "accounts:password_change": EVERYONE,
    "accounts:two_factor_setup": EVERYONE,
    "accounts:two_factor_verify": EVERYONE,
    "accounts:ping": EVERYONE,
    "accounts:staff_list": {A},
    "accounts:staff_create": {A},
    "accounts:staff_role": {A},
    "accounts:staff_password_reset": {A},
    "patients:search": STAFF,
    "patients:register": {P, N, F},
    "patients:detail": STAFF,
    "patients:edit": {P, N, F},
    "patients:history": STAFF,
    "patients:weight_add": {P, N},
    "patients:weight_correct": {P, N},
    "patients:consent_add": {P, N, F},
    "portal:home": {T},
    "portal:consent": {T},
    "portal:access_log": {T},
    "audit:report": {A},
    "audit:export": {A},
}
PUBLIC = {
    # Online referral: a physician's and a patient's forms, and their thank-you pages.
    "referrals:physician_form",
    "referrals:physician_thanks",
    "referrals:self_form",
    "referrals:self_thanks",
    # The front door: the public pages for a visitor, each signed-in role's own home
    # (tests/web/public/test_public_pages.py checks where each role lands).
    "home",
    # The public patient information (no login, no personal data).
    "public:index",
    "public:chronic_pain",
    "public:ketamine",
    "public:routes",
    "public:conditions",
    "public:relief",
    "public:costs",
    "public:infusion_day",
    "healthz",
    # The language switch (English / Français): anyone may choose the language they read.
    "set_language",
    "accounts:login",
    "accounts:logout",
    "link:open",
    "link:question",
    "link:review",
    "link:done",
}


def all_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, f"{entry.namespace}:" if entry.namespace else prefix)
            elif isinstance(entry, URLPattern) and entry.name:
                names.add(f"{prefix}{entry.name}")

    walk(get_resolver().url_patterns)
    return names


def url_for(name: str, users, patient, own_patient) -> str:
    kwargs = {}
    if name.startswith("patients:") and name not in {"patients:search", "patients:register"}:
        kwargs["patient_id"] = patient.pk
    if name == "patients:weight_correct":
        kwargs["weight_id"] = patient.weights.first().pk
    if name == "portal:consent":
        kwargs["consent_id"] = own_patient.consents.first().pk
    if name in ("accounts:staff_role", "accounts:staff_password_reset"):
        kwargs["user_id"] = users[Role.NURSE].pk
    return reverse(name, kwargs=kwargs)


def declared_url_names() -> set[str]:
    import importlib
    import pkgutil

    import tests.web

    names: set[str] = set()
    for module_info in pkgutil.walk_packages(tests.web.__path__, "tests.web."):
        module = importlib.import_module(module_info.name)
        names |= set(getattr(module, "URL_MATRIX", {}))
    return names


def test_every_url_is_in_a_matrix():
    assert all_url_names() - PUBLIC == declared_url_names()


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.django_db
def test_it_allows_exactly_the_matrix_roles(role, users, patient, own_patient, client_for):
    client = client_for(role)
    for name, allowed in URL_MATRIX.items():
        response = client.get(url_for(name, users, patient, own_patient))
        if role in allowed:
            # The two-factor pages redirect to the other once a device is verified.
            assert response.status_code in (200, 302), (name, role, response.status_code)
            if response.status_code == 302:
                assert name.startswith("accounts:two_factor") or name == "home", name
        else:
            assert response.status_code == 403, (name, role, response.status_code)


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login_everywhere_but_the_allowlist(
    client, users, patient, own_patient
):
    for name in URL_MATRIX:
        response = client.get(url_for(name, users, patient, own_patient))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login")), name
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(reverse("accounts:login")).status_code == 200


@pytest.mark.django_db
def test_a_refused_page_is_audited(users, client_for):
    before = AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count()
    assert client_for(Role.NURSE).get(reverse("audit:report")).status_code == 403
    event = AuditEvent.objects.filter(action=Action.ACCESS_DENIED).order_by("-sequence").first()
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count() == before + 1
    assert event.actor == users[Role.NURSE]
    assert event.detail["path"] == reverse("audit:report")


def test_a_view_without_declared_roles_is_refused(rf, users):
    from django.http import HttpResponse

    from painclinic.web.accounts.middleware import RoleGateMiddleware

    def undeclared(request):
        return HttpResponse("secret")

    request = rf.get("/x")
    request.user = users[Role.PHYSICIAN]
    request.resolver_match = None
    gate = RoleGateMiddleware(lambda r: HttpResponse())
    response = gate.process_view(request, undeclared, (), {})
    assert response is not None and response.status_code == 403
