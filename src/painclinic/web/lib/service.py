"""The service contract: who acts, what they may do, and how a refusal is recorded.

Every ``do_*`` service function of the web project takes an :class:`Actor` first and is
wrapped by :func:`service`, which

1. refuses an actor whose role the app's role table does not allow (``RoleRefused``, a
   ``PermissionDenied``), before the function body runs;
2. lets the body run (it opens its own ``transaction.atomic`` block and writes its audit events
   inside it), on PostgreSQL inside a transaction that took the audit chain's lock first
   (``audit.chain.write_transaction``: the lock order of docs/architecture.md, so a service
   never holds a clinical row while it waits for the chain, the cause of "deadlock detected");
3. when the outermost service call ends in a refusal (:class:`Refused`), a stale version
   (:class:`StaleVersion`) or a permission error, writes one audit event for it *after* the
   body's transaction has rolled back, so the refusal itself stays on record whichever caller
   (a view, a command, a worker) made the call.

Views build the actor from the request in one place (``painclinic.web.lib.http.actor_of``);
commands and workers build it with :meth:`Actor.for_user` or
``painclinic.web.accounts.services.system_actor``. Nothing here knows about HTTP.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from django.core.exceptions import PermissionDenied

from painclinic.web.lib.actor import Actor, Channel

__all__ = [
    "Actor",
    "Channel",
    "HardLimitRefused",
    "Refused",
    "RoleRefused",
    "RoleTable",
    "StaleVersion",
    "note_subject",
    "service",
]


# --- refusals and conflicts ------------------------------------------------------------------


class Refused(Exception):
    """A rule refused the change and nothing was saved.

    ``message`` is for the person (it names what to do); ``field`` names the input it is about,
    when there is one; ``detail`` adds values to the audit event (a refused hard limit carries
    the dose and the limit).
    """

    def __init__(
        self, message: str, field: str | None = None, *, detail: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.detail: dict[str, Any] = dict(detail or {})


class HardLimitRefused(Refused):
    """A dose or rate beyond a drug library hard limit: refused, never overridable.

    The one policy for high-alert doses: the refusal is audited with the values, so ``detail``
    must carry at least ``drug``, the refused value with its unit in the key (for example
    ``rate_mg_per_h`` or ``dose_mg_per_kg``) and the limit it broke (``limit`` and ``limit_unit``
    or the limit's own key with its unit).
    """


class StaleVersion(Exception):
    """The record changed after the caller read it (optimistic concurrency); nothing was saved.

    ``obj`` is the record as it is now, ``patient`` its patient, ``changes`` says what the
    other person changed (field names or charted event kinds).
    """

    def __init__(
        self,
        message: str,
        *,
        obj: Any,
        patient: Any = None,
        expected_version: int | None = None,
        current_version: int | None = None,
        changes: Iterable[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.obj = obj
        self.patient = patient
        self.expected_version = expected_version
        self.current_version = current_version
        self.changed = [str(change) for change in changes]


class RoleRefused(PermissionDenied):
    """The actor's role may not call this service at all."""


# --- role tables -----------------------------------------------------------------------------


class RoleTable:
    """One app's rule of who may do what: read by its views (``@allow_roles``) and services.

    >>> table = RoleTable(start=("nurse",))
    >>> sorted(table.start)
    ['nurse']
    """

    def __init__(self, **rules: Iterable[str]) -> None:
        self._rules = {
            name: frozenset(str(role) for role in roles) for name, roles in rules.items()
        }

    def __getattr__(self, name: str) -> frozenset[str]:
        try:
            return self.__dict__["_rules"][name]
        except KeyError:
            raise AttributeError(f"no role rule named {name!r}") from None

    def items(self) -> Iterable[tuple[str, frozenset[str]]]:
        return self._rules.items()


# --- the decorator ---------------------------------------------------------------------------


@dataclass
class _Call:
    """What the outermost service call knows when it must audit a refusal."""

    service: str
    category: str
    action: str
    patient: Any = None
    obj: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


_CURRENT: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "painclinic_service_call", default=None
)

P = ParamSpec("P")
R = TypeVar("R")


def note_subject(patient: Any = None, obj: Any = None, **detail: Any) -> None:
    """Tell the running service call which record it acts on, for a refusal's audit event.

    The first record noted wins (the outermost service's own record), so a nested service
    call does not change what the outer call's refusal is about.
    """
    call = _CURRENT.get()
    if call is None:
        return
    if call.patient is None and patient is not None:
        call.patient = patient
    if call.obj is None and obj is not None:
        call.obj = obj
    for key, value in detail.items():
        call.extra.setdefault(key, value)


def _audit_failure(actor: Actor, call: _Call, error: Exception) -> None:
    from painclinic.web.audit.models import Action, Outcome
    from painclinic.web.audit.services import audit

    detail: dict[str, Any] = {"service": call.service, **call.extra}
    patient, obj, action = call.patient, call.obj, call.action
    if isinstance(error, StaleVersion):
        outcome = Outcome.CONFLICT
        patient = error.patient if error.patient is not None else patient
        obj = error.obj if error.obj is not None else obj
        detail |= {
            "conflict": error.message,
            "expected_version": error.expected_version,
            "current_version": error.current_version,
            "changes": error.changed,
        }
    elif isinstance(error, Refused):
        outcome = Outcome.DENIED
        detail |= {"refused": error.message, "field": error.field, **error.detail}
    else:
        outcome = Outcome.DENIED
        action = Action.ACCESS_DENIED
        detail |= {"permission": str(error)}
    audit(
        actor,
        category=call.category,
        action=action,
        patient=patient,
        obj=obj if hasattr(obj, "_meta") else None,
        outcome=outcome,
        detail=detail,
    )


def _write_transaction() -> AbstractContextManager[None]:
    # Imported here, like the audit call above: this module loads before the apps are ready.
    from painclinic.web.audit.chain import write_transaction

    return write_transaction()


def require_role(actor: Actor, allowed: frozenset[str], doing: str) -> None:
    if not actor.is_authenticated or actor.role not in allowed:
        who = actor.role or "an anonymous visitor"
        raise RoleRefused(f"{who} may not {doing.replace('_', ' ')}")


def service(
    roles: Iterable[str], *, category: str, action: str = "update"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a ``do_*`` function a service: role check first, refusals audited after rollback.

    ``roles`` is the entry of the app's :class:`RoleTable`; ``category`` and ``action`` are the
    audit category and action used for a refusal (the body writes its own success events).
    """
    allowed = frozenset(str(role) for role in roles)

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        doing = function.__name__.removeprefix("do_")

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            actor = args[0] if args else kwargs.get("actor")
            if not isinstance(actor, Actor):
                raise TypeError(f"{function.__name__} takes an Actor first, got {actor!r}")
            outer = _CURRENT.get()
            call = outer or _Call(function.__name__, category, action)
            token = _CURRENT.set(call)
            try:
                require_role(actor, allowed, doing)
                if outer is not None:
                    return function(*args, **kwargs)
                # The lock order: the audit chain's lock before any row the body locks.
                with _write_transaction():
                    return function(*args, **kwargs)
            except (Refused, StaleVersion, PermissionDenied) as error:
                # Only the outermost call audits: an inner call's transaction is a savepoint of
                # the outer one, and an event written there would be rolled back with it.
                if outer is None:
                    _audit_failure(actor, call, error)
                raise
            finally:
                _CURRENT.reset(token)

        run.allowed_roles = allowed  # type: ignore[attr-defined]
        run.audit_category = category  # type: ignore[attr-defined]
        return run

    return decorate
