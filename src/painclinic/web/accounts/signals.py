"""Log-ins, log-outs and failed log-ins go into the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from painclinic.web.accounts.middleware import LAST_SEEN_KEY, LOGIN_AT_KEY
from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.lib.http import actor_of
from painclinic.web.lib.service import Actor, Channel


def _actor(request: Any, user: Any) -> Actor:
    """Log-in signals may come without a request (a test client's ``login``)."""
    if request is None:
        return Actor(user, Channel.WEB)
    return actor_of(request, user=user)


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[LOGIN_AT_KEY] = now
        request.session[LAST_SEEN_KEY] = now
    audit(_actor(request, user), category=Category.ACCOUNT, action=Action.LOGIN)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit(_actor(request, user), category=Category.ACCOUNT, action=Action.LOGOUT)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
    audit(
        _actor(request, None),
        category=Category.ACCOUNT,
        action=Action.LOGIN_FAILED,
        outcome=Outcome.FAILED,
        detail={"username": str(credentials.get("username", ""))[:150]},
    )
