"""The service contract, across every app: each ``do_*`` checks its own roles, takes an actor,
and audits its refusals after the rollback, whoever calls it.

These tests walk every ``painclinic.web.<app>.services`` module, so a new service is covered
the day it is written (and fails here if it skips the contract).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

import painclinic
import painclinic.web
from painclinic.web.accounts.models import Role
from painclinic.web.accounts.services import system_actor, system_user
from painclinic.web.audit.models import AuditEvent
from painclinic.web.lib.service import Actor, Channel, RoleRefused
from tests.conftest import actor_as, make_user

WEB = Path(painclinic.web.__file__).parent


def service_modules() -> list[Any]:
    modules = []
    for info in pkgutil.iter_modules([str(WEB)]):
        if info.ispkg and (WEB / info.name / "services.py").exists():
            modules.append(importlib.import_module(f"painclinic.web.{info.name}.services"))
    return modules


def all_services() -> list[tuple[str, Callable[..., Any]]]:
    found = []
    for module in service_modules():
        for name, function in vars(module).items():
            is_service = name.startswith("do_") and inspect.isfunction(function)
            if is_service and function.__module__ == module.__name__:
                found.append((f"{module.__name__.split('.')[-2]}.{name}", function))
    return sorted(found)


SERVICES = all_services()
# The server operator's command line (`painclinic accounts`) acts as the system user: the
# first clinic admin, and a new password for a locked-out one.
OPERATOR_SERVICES = {"accounts.do_create_staff", "accounts.do_reset_password"}
# The worker's unattended work outside follow-up: overdue-invoice reminders.
WORKER_SERVICES = {"billing.do_claim_overdue_reminders", "billing.do_record_overdue_outcomes"}
# The public referral forms (no sign-in) store a referral, or count a refused one, as the
# system user.
PUBLIC_FORM_SERVICES = {"referrals.do_submit_referral", "referrals.do_note_attempt"}


def test_every_app_with_services_is_found():
    apps = {name.split(".")[0] for name, _ in SERVICES}
    assert {"patients", "accounts", "infusions", "treatments", "scheduling"} <= apps
    assert {"assessments", "drugregister"} <= apps


@pytest.mark.parametrize(("name", "function"), SERVICES, ids=[n for n, _ in SERVICES])
def test_every_service_takes_an_actor_first_and_declares_its_roles(name, function):
    parameters = list(inspect.signature(function).parameters)
    assert parameters and parameters[0] == "actor", f"{name} must take the actor first"
    allowed = getattr(function, "allowed_roles", None)
    assert allowed, f"{name} is not wrapped by painclinic.web.lib.service.service"
    assert (
        Role.SYSTEM not in allowed
        or name.startswith("followup.")
        or name in OPERATOR_SERVICES
        or name in WORKER_SERVICES
        or name in PUBLIC_FORM_SERVICES
    ), name


def _call_with_placeholders(function: Callable[..., Any], actor: Actor) -> BaseException | None:
    """Call ``function`` for ``actor`` with None for every other required argument.

    Past the role check the body fails on the placeholders (or refuses them); what matters is
    whether the role check itself let the call through.
    """
    signature = inspect.signature(function)
    arguments: dict[str, Any] = {}
    positional: list[Any] = [actor]
    for parameter in list(signature.parameters.values())[1:]:
        if parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind == parameter.KEYWORD_ONLY:
            arguments[parameter.name] = None
        else:
            positional.append(None)
    try:
        function(*positional, **arguments)
    except BaseException as error:
        return error
    return None


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_only_the_allowed_roles_get_past_each_services_check(role):
    """Every do_* with every role, called directly: the table decides, not the view."""
    actor = actor_as(make_user(role))
    wrong = []
    for name, function in SERVICES:
        outcome = _call_with_placeholders(function, actor)
        refused_by_role = isinstance(outcome, RoleRefused)
        if (role in getattr(function, "allowed_roles", ())) == refused_by_role:
            wrong.append((name, type(outcome).__name__, str(outcome)[:80]))
    assert not wrong, f"role {role}: " + "; ".join(map(str, wrong))


@pytest.mark.django_db
def test_a_refused_role_is_audited_as_a_denial_by_the_service_itself(users):
    """No view involved: a billing user calling an infusion service directly."""
    from painclinic.web.infusions.services import do_start

    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        _raise(do_start, actor_as(users[Role.BILLING]))
    event = AuditEvent.objects.order_by("-sequence").first()
    assert AuditEvent.objects.count() == before + 1
    assert event.outcome == "denied" and event.action == "access_denied"
    assert event.actor == users[Role.BILLING]
    assert event.detail["service"] == "do_start"
    assert event.channel == "cli" and event.origin == "tests"


def _raise(function: Callable[..., Any], actor: Actor) -> None:
    error = _call_with_placeholders(function, actor)
    if error is not None:
        raise error


@pytest.mark.django_db
def test_an_anonymous_actor_is_refused_by_every_service():
    anonymous = Actor(None, Channel.API, "/api/x", "203.0.113.9")
    for name, function in SERVICES:
        assert isinstance(_call_with_placeholders(function, anonymous), RoleRefused), name


@pytest.mark.django_db
def test_the_system_user_cannot_sign_in_and_acts_through_its_channel():
    from django.contrib.auth.backends import ModelBackend

    user = system_user()
    assert not user.is_active and not user.has_usable_password()
    backend = ModelBackend()
    assert not backend.user_can_authenticate(user)
    assert backend.authenticate(None, username=user.username, password="") is None
    assert system_user() == user  # one, made once
    actor = system_actor(Channel.WORKER, "reminders: send due")
    assert actor.role == Role.SYSTEM and actor.origin == "reminders: send due"


def test_a_service_refuses_anything_but_an_actor():
    from painclinic.web.patients.services import do_record_weight

    with pytest.raises(TypeError, match="Actor"):
        do_record_weight(object(), None, None)  # type: ignore[arg-type]


# --- HTTP stays in the views ---------------------------------------------------------------

# Views, middleware, context processors and error handlers take requests; lib/http.py is the
# one place a request becomes an actor. Nothing else may know about HTTP requests.
HTTP_ALLOWED = {"views.py", "portal_views.py", "middleware.py", "context.py", "errors.py"}
HTTP_ALLOWED_PATHS = {WEB / "lib" / "http.py", WEB / "accounts" / "signals.py"}
FORBIDDEN_NAMES = {"HttpRequest", "RequestFactory", "WSGIRequest", "ASGIRequest"}


def _imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Name | ast.Attribute):
            names.add(node.id if isinstance(node, ast.Name) else node.attr)
    return names


def test_no_code_outside_views_and_middleware_knows_http_requests():
    offenders = []
    for path in sorted(Path(painclinic.__file__).parent.rglob("*.py")):
        if path.name in HTTP_ALLOWED or path in HTTP_ALLOWED_PATHS or "migrations" in path.parts:
            continue
        found = _imported_names(path) & FORBIDDEN_NAMES
        if found:
            offenders.append(f"{path.relative_to(WEB.parent)}: {sorted(found)}")
    assert not offenders, offenders


def test_the_request_factory_is_nowhere_outside_tests_of_views():
    """RequestFactory fakes a browser: no demo, bench or service test uses it."""
    root = Path(painclinic.__file__).parents[2]
    offenders = [
        str(path.relative_to(root))
        for folder in ("src", "bench")
        for path in (root / folder).rglob("*.py")
        if "RequestFactory" in path.read_text(encoding="utf-8")
    ]
    assert not offenders, offenders
