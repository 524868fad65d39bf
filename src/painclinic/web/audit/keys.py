"""The audit trail's keys: kept outside the database, looked up by id, rotated by adding one.

Every event is sealed with an HMAC-SHA256 under the current key and records that key's id, so
someone who can write to the database but has no key cannot recompute the chain after editing
or deleting a row. Verification looks each event's key up by the id it records, so old events
keep verifying after a rotation as long as their key stays in the keyring.

Where the keys come from (settings, read from the environment; see docs/audit-trail.md):

- ``AUDIT_KEY`` (``PAINCLINIC_AUDIT_KEY`` or ``PAINCLINIC_AUDIT_KEY_FILE``): the current key,
  under the id ``AUDIT_KEY_ID`` (``PAINCLINIC_AUDIT_KEY_ID``, default ``1``);
- ``AUDIT_KEYS`` (``PAINCLINIC_AUDIT_KEYS`` or ``PAINCLINIC_AUDIT_KEYS_FILE``): the keyring,
  one ``id=key`` a line (or comma-separated); the older keys, kept to verify what they sealed.
  Without ``AUDIT_KEY``, the current key is the keyring's entry named by ``AUDIT_KEY_ID``, or
  its last line;
- neither, outside production: a key generated on first use into ``AUDIT_DEV_KEYS_FILE``
  (``<data dir>/audit-keys``), said in the log. In production the settings refuse to start.

Events written before keys existed record the key id ``""`` and a plain SHA-256 (legacy); they
still verify, but only as the chain's beginning: no unkeyed event may follow a keyed one.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from painclinic.web.lib.env import SettingError

logger = logging.getLogger("painclinic.audit")

KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
MIN_KEY_LENGTH = 32


class KeyringError(SettingError):
    """The audit keys are missing or malformed (the message names the setting)."""


@dataclass(frozen=True)
class Keyring:
    """The keys by id, and which one seals new events."""

    keys: dict[str, bytes]
    current_id: str

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current_id]

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)


def check_key_id(key_id: str, where: str) -> str:
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyringError(
            f"{where}: the key id {key_id[:40]!r} must be 1 to 32 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return key_id


def check_key(key: str, where: str) -> bytes:
    if len(key) < MIN_KEY_LENGTH:
        raise KeyringError(
            f"{where}: the key is {len(key)} characters; use at least {MIN_KEY_LENGTH} random "
            "characters (for example: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key.encode()


def parse_keyring(text: str, where: str) -> dict[str, bytes]:
    """``id=key`` entries, one a line or separated by commas; ``#`` starts a comment."""
    keys: dict[str, bytes] = {}
    for number, raw in enumerate(re.split(r"[\n,]", text), start=1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        key_id, equals, key = entry.partition("=")
        if not equals:
            raise KeyringError(f"{where}: entry {number} is not 'id=key'")
        key_id = check_key_id(key_id.strip(), where)
        if key_id in keys:
            raise KeyringError(f"{where}: the key id {key_id!r} appears twice")
        keys[key_id] = check_key(key.strip(), where)
    return keys


def build_keyring(
    key: str | None, key_id: str | None, keyring_text: str | None, dev_file: Path | None
) -> Keyring:
    """The keyring from the settings' values (``dev_file``: generate a key there if none)."""
    keys: dict[str, bytes] = {}
    if keyring_text:
        keys = parse_keyring(keyring_text, "PAINCLINIC_AUDIT_KEYS")
    if key:
        current = check_key_id(key_id or "1", "PAINCLINIC_AUDIT_KEY_ID")
        sealed = check_key(key, "PAINCLINIC_AUDIT_KEY")
        if keys.get(current, sealed) != sealed:
            raise KeyringError(
                f"PAINCLINIC_AUDIT_KEY: the keyring holds a different key under the id {current!r}"
            )
        keys[current] = sealed
        return Keyring(keys, current)
    if keys:
        current = key_id or list(keys)[-1]
        if current not in keys:
            raise KeyringError(f"PAINCLINIC_AUDIT_KEY_ID: no key {current!r} in the keyring")
        return Keyring(keys, current)
    if dev_file is None:
        raise KeyringError(
            "PAINCLINIC_AUDIT_KEY_FILE (or PAINCLINIC_AUDIT_KEYS_FILE) is required in "
            "production: the audit trail's key, kept outside the database"
        )
    keys = parse_keyring(_development_keys(dev_file), str(dev_file))
    current = key_id or list(keys)[-1]
    if current not in keys:
        raise KeyringError(f"PAINCLINIC_AUDIT_KEY_ID: no key {current!r} in {dev_file}")
    return Keyring(keys, current)


def _development_keys(path: Path) -> str:
    """The development keyring's text, generated (said in the log) the first time."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"dev1={secrets.token_hex(32)}\n"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="utf-8")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    logger.warning(
        "audit trail: generated a development key in %s (production needs "
        "PAINCLINIC_AUDIT_KEY_FILE; see docs/audit-trail.md)",
        path,
    )
    return text


_CACHE: dict[tuple[object, ...], Keyring] = {}


def keyring() -> Keyring:
    """The configured keyring (built once per distinct settings)."""
    values = (
        settings.AUDIT_KEY,
        settings.AUDIT_KEY_ID,
        settings.AUDIT_KEYS,
        settings.AUDIT_DEV_KEYS_FILE,
    )
    found = _CACHE.get(values)
    if found is None:
        found = _CACHE[values] = build_keyring(*values)
    return found
