"""Log-ins, log-outs and failed log-ins go into the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from painclinic.web.accounts.middleware import LAST_SEEN_KEY, LOGIN_AT_KEY
from painclinic.web.audit.services import Action, Category, Outcome, audit


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[LOGIN_AT_KEY] = now
        request.session[LAST_SEEN_KEY] = now
    audit(request, category=Category.ACCOUNT, action=Action.LOGIN, actor=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit(request, category=Category.ACCOUNT, action=Action.LOGOUT, actor=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
    audit(
        request,
        category=Category.ACCOUNT,
        action=Action.LOGIN_FAILED,
        outcome=Outcome.FAILED,
        detail={"username": str(credentials.get("username", ""))[:150]},
    )
