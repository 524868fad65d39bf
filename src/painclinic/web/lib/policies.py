"""The clinic's policy files, parsed once per process and again only when a file changes.

The clinical core reads and validates a policy file on every call (it is pure and keeps no
state); a page that needs the protocol library or the responder policy on every view would
pay that each time (0.7 ms for the protocols, a tenth of the outcome page). The parsed result
is a frozen object, so one copy serves every request; the key includes the clinic's override
file and its modification time, so an edited file is read again at the next request.
"""

from __future__ import annotations

import functools
import os

from painclinic.clinical import ProtocolLibrary, load_protocols
from painclinic.clinical.outcomes import ResponderPolicy, load_responder_policy
from painclinic.clinical.policy import POLICY_DIR_ENV, policy_path

Stamp = tuple[str | None, str | None, int | None]


def _stamp(name: str) -> Stamp:
    override = policy_path(name)
    if override is None:
        return (os.environ.get(POLICY_DIR_ENV), None, None)
    return (os.environ.get(POLICY_DIR_ENV), str(override), override.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _protocols(stamp: Stamp) -> ProtocolLibrary:
    return load_protocols()


@functools.lru_cache(maxsize=4)
def _responder_policy(stamp: Stamp) -> ResponderPolicy:
    return load_responder_policy()


def protocols() -> ProtocolLibrary:
    """The protocol library in force (``protocols.json``, the clinic's copy if any)."""
    return _protocols(_stamp("protocols.json"))


def responder_policy() -> ResponderPolicy:
    """The responder policy in force (``responder_policy.json``)."""
    return _responder_policy(_stamp("responder_policy.json"))
