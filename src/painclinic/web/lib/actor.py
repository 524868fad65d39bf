"""Who acts: a user, through a channel, from an origin. Knows nothing of HTTP or of the apps."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Actor", "Channel"]


class Channel(StrEnum):
    """Through what an action reached the services (recorded in every audit event)."""

    WEB = "web"
    API = "api"
    CLI = "cli"
    WORKER = "worker"


@dataclass(frozen=True)
class Actor:
    """Who acts, through what, and from where.

    ``user`` is a ``painclinic.web.accounts.models.User`` (the system user for unattended work),
    or ``None`` only for an anonymous web visitor (a failed login). ``origin`` is the request
    path, the command line or the job name; ``client_ip`` is the client's address, when there
    is one.
    """

    user: Any
    channel: Channel
    origin: str = ""
    client_ip: str | None = None

    @property
    def role(self) -> str:
        return str(getattr(self.user, "role", "") or "")

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None and bool(getattr(self.user, "is_authenticated", False))

    @property
    def username(self) -> str:
        return self.user.get_username() if self.is_authenticated else ""

    @classmethod
    def for_user(
        cls, user: Any, channel: Channel = Channel.CLI, origin: str | None = None
    ) -> Actor:
        """An actor for ``user`` outside the web: the origin defaults to this process's
        command line (for a worker, pass the job's name)."""
        if origin is None:
            origin = shlex.join(["painclinic", *sys.argv[1:]]) if channel == Channel.CLI else ""
        return cls(user=user, channel=channel, origin=origin[:200])
