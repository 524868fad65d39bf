"""Signed checkpoints of the audit chain's head, written outside the database.

A checkpoint is one line appended to a file (``AUDIT_CHECKPOINT_FILE``, by default
``<data dir>/audit-checkpoints.log``): the sequence and hash of the chain's head at that moment,
the time, the id of the key that signed it, and an HMAC-SHA256 over all of them::

    painclinic-audit-checkpoint v1 seq=1200 head=4f3a... at=2026-03-01T15:04:05.123456+00:00 \
key=k1 mac=9c1e...

Someone who can write to the database but not to wherever the clinic ships this file (a syslog
server, the off-site backup) can delete the chain's latest events, but the last checkpoint still
names an event the database no longer holds; ``painclinic audit verify`` reports it. A line
written without the key does not verify. The writer appends one line every
``AUDIT_CHECKPOINT_EVERY`` events (after that event's transaction commits, never inside it) and
on ``painclinic audit checkpoint``; nothing else writes to the file, and nothing rewrites it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from painclinic.web.audit.keys import Keyring, keyring

logger = logging.getLogger("painclinic.audit")

PREFIX = "painclinic-audit-checkpoint v1"
_LINE = re.compile(
    rf"{re.escape(PREFIX)} seq=(?P<seq>[1-9][0-9]{{0,18}}) head=(?P<head>[0-9a-f]{{64}}) "
    r"at=(?P<at>\S+) key=(?P<key>[A-Za-z0-9][A-Za-z0-9._-]{0,31}) mac=(?P<mac>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class Checkpoint:
    """One verified line of the checkpoint file."""

    line_number: int
    sequence: int
    head_hash: str
    at: str
    key_id: str


@dataclass(frozen=True)
class BadLine:
    """A line that is not a checkpoint this clinic's keys signed: forged, altered or damaged."""

    line_number: int
    reason: str


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _body(sequence: int, head_hash: str, at: str, key_id: str) -> str:
    return f"{PREFIX} seq={sequence} head={head_hash} at={at} key={key_id}"


def format_checkpoint(
    sequence: int, head_hash: str, at: dt.datetime, keys: Keyring | None = None
) -> str:
    """The signed line (without its newline) for the head ``sequence``/``head_hash``."""
    keys = keys or keyring()
    body = _body(
        sequence,
        head_hash,
        at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        keys.current_id,
    )
    return f"{body} mac={_mac(keys.current_key, body)}"


def checkpoint_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_FILE)


def append_checkpoint(sequence: int, head_hash: str, path: Path | None = None) -> str:
    """Append one signed checkpoint line (one write, O_APPEND, synced to disk); the line."""
    line = format_checkpoint(sequence, head_hash, dt.datetime.now(dt.UTC))
    target = path or checkpoint_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (line + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return line


def append_checkpoint_after_commit(sequence: int, head_hash: str) -> None:
    """The writer's periodic checkpoint, once its event is committed: a failure to write is
    logged, not raised (the event is already saved; the page that wrote it must not fail)."""
    try:
        append_checkpoint(sequence, head_hash)
    except OSError as error:
        logger.error(
            "audit trail: could not write the checkpoint of event #%s to %s: %s",
            sequence,
            checkpoint_path(),
            error.strerror or error,
        )


def read_checkpoints(path: Path, keys: Keyring | None = None) -> list[Checkpoint | BadLine]:
    """Every non-empty line of ``path``, verified against the keyring (no file: none)."""
    keys = keys or keyring()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    found: list[Checkpoint | BadLine] = []
    for number, line_bytes in enumerate(raw.splitlines(), start=1):
        try:
            line = line_bytes.decode().strip()
        except UnicodeDecodeError:
            found.append(BadLine(number, "is not text"))
            continue
        if line:
            found.append(_verify_line(number, line, keys))
    return found


def _verify_line(number: int, line: str, keys: Keyring) -> Checkpoint | BadLine:
    match = _LINE.fullmatch(line)
    if match is None:
        return BadLine(number, "is not a checkpoint line")
    key = keys.get(match["key"])
    if key is None:
        return BadLine(number, f"is signed with the key {match['key']!r}, not in the keyring")
    body = _body(int(match["seq"]), match["head"], match["at"], match["key"])
    if not hmac.compare_digest(_mac(key, body), match["mac"]):
        return BadLine(
            number,
            f"(event #{match['seq']}) does not carry a valid signature: it was forged or altered",
        )
    return Checkpoint(number, int(match["seq"]), match["head"], match["at"], match["key"])
