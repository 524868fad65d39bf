"""Writing and verifying the audit hash chain.

Each event's seal covers its own fields and the previous event's seal, so editing, deleting or
reordering any row out of band breaks every later link. The seal is an HMAC-SHA256 under a key
kept outside the database (``audit/keys.py``), so the chain cannot be recomputed after an edit by
someone who can write to the database but holds no key; events written before keys existed carry
a plain SHA-256 and the key id ``""`` (legacy), accepted only at the chain's beginning. Signed
checkpoints of the head, written to a file outside the database (``audit/checkpoints.py``), show
when the chain's latest events were deleted.

Writers serialise on the chain head: an advisory transaction lock on PostgreSQL, the IMMEDIATE
write transaction on SQLite. The chain's lock is the first lock of every write transaction that
audits (the lock order in docs/architecture.md): ``write_transaction`` opens the transaction and
takes it before the service body locks any clinical row, and audit rows take no lock on the rows
they name.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from painclinic.web.audit import checkpoints
from painclinic.web.audit.keys import Keyring, keyring
from painclinic.web.audit.models import AuditEvent

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 7_310_021  # arbitrary constant shared by every painclinic writer


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def _sealed_fields(event: AuditEvent) -> dict[str, Any]:
    occurred: datetime = event.occurred_at
    fields = {
        "sequence": event.sequence,
        "occurred_at": occurred.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "actor_role": event.actor_role,
        "patient_id": event.patient_id,
        "category": event.category,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "client_ip": event.client_ip,
        "detail": event.detail,
        "previous_hash": event.previous_hash,
    }
    # Events written before channels were recorded have neither; leaving empty ones out keeps
    # their hashes valid, and blanking a recorded channel still changes the hash.
    if event.channel or event.origin:
        fields |= {"channel": event.channel, "origin": event.origin}
    # Likewise the key id: absent from legacy events, covered by the seal of keyed ones.
    if event.key_id:
        fields["key_id"] = event.key_id
    return fields


def plain_hash(event: AuditEvent) -> str:
    """The SHA-256 of the event's fields: the legacy seal, which anyone can recompute."""
    return hashlib.sha256(_canonical(_sealed_fields(event))).hexdigest()


def keyed_hash(event: AuditEvent, key: bytes) -> str:
    """The HMAC-SHA256 of the event's fields under ``key``: the seal of a keyed event."""
    return hmac.new(key, _canonical(_sealed_fields(event)), hashlib.sha256).hexdigest()


def compute_hash(event: AuditEvent, keys: Keyring | None = None) -> str:
    """What the event's seal must be: the HMAC under the key its id names (legacy: SHA-256).

    Raises ``KeyError`` when the keyring holds no key of that id.
    """
    if not event.key_id:
        return plain_hash(event)
    key = (keys or keyring()).get(event.key_id)
    if key is None:
        raise KeyError(event.key_id)
    return keyed_hash(event, key)


_INSERTED_FIELDS = (
    "sequence",
    "occurred_at",
    "actor",
    "actor_username",
    "actor_role",
    "patient",
    "category",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "client_ip",
    "channel",
    "origin",
    "detail",
    "previous_hash",
    "key_id",
    "event_hash",
)


def _statements() -> tuple[str, str, list[Any]]:
    """The head read and the insert, from the model's own table and column names (no input)."""
    meta = AuditEvent._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [cast(Field, meta.get_field(name)) for name in _INSERTED_FIELDS]
    head = f"SELECT {quote('sequence')}, {quote('event_hash')}, {quote('key_id')} "
    head += f"FROM {table} "
    head += f"ORDER BY {quote('sequence')} DESC LIMIT 1"
    names = ", ".join(quote(str(field.column)) for field in columns)
    marks = ", ".join(["%s"] * len(columns))
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks}) "  # noqa: S608
    insert += f"RETURNING {quote(str(meta.pk.column if meta.pk else 'id'))}"
    return head, insert, columns


def lock_chain() -> None:
    """Take the chain's lock for the rest of the current transaction (PostgreSQL; re-entrant).

    On SQLite the IMMEDIATE transaction already holds the database's one write lock from its
    first statement, which is the same order.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


@contextmanager
def write_transaction() -> Iterator[None]:
    """A write transaction that takes the audit chain's lock before anything else.

    Used by the service decorator around every ``do_*`` call: a service that locks a clinical
    row and then audits would otherwise wait for the chain's lock while holding that row, and a
    page view holding the chain's lock could be waiting for the row (a lock cycle, which
    PostgreSQL ends by failing one of them). On SQLite it opens nothing: the body's own
    IMMEDIATE transaction takes the database's write lock first, and opening it earlier would
    only hold that lock longer.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        lock_chain()
        yield


def append_event(**fields: Any) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction (or a new one).

    Every page view writes one of these, so the head read and the insert are two plain
    statements rather than two compiled ORM queries; the values go through each model field's
    own ``get_db_prep_save``, exactly as ``Model.save()`` would send them. The event is sealed
    with the current key; every ``AUDIT_CHECKPOINT_EVERY``-th event, and the first one sealed
    with a key, also appends a signed checkpoint once its transaction has committed.
    """
    keys = keyring()
    head_sql, insert_sql, columns = _statements()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        cursor.execute(head_sql)
        head = cursor.fetchone()
        event = AuditEvent(
            sequence=(head[0] + 1) if head else 1,
            previous_hash=head[1] if head else GENESIS_HASH,
            occurred_at=timezone.now(),
            key_id=keys.current_id,
            **fields,
        )
        # JSON round-trip so the hash covers exactly what the database will return.
        event.detail = json.loads(_canonical(event.detail or {}))
        event.event_hash = keyed_hash(event, keys.current_key)
        values = [
            field.get_db_prep_save(getattr(event, field.attname), connection) for field in columns
        ]
        cursor.execute(insert_sql, values)
        event.pk = cursor.fetchone()[0]
        event._state.adding = False
        event._state.db = connection.alias
        first_keyed = head is None or not head[2]
        if first_keyed or event.sequence % settings.AUDIT_CHECKPOINT_EVERY == 0:
            sequence, sealed = event.sequence, event.event_hash
            transaction.on_commit(
                lambda: checkpoints.append_checkpoint_after_commit(sequence, sealed)
            )
    return event


def append_events(rows: Sequence[dict[str, Any]]) -> list[AuditEvent]:
    """Append several events, in order, inside the caller's transaction: one chain lock, one
    head read and one multi-row INSERT per 500 events instead of those per event.

    Each row holds the fields ``append_event`` takes; each event is sealed and linked exactly
    as ``append_event`` would (the same seal, the same checkpoints after the commit), so the
    chain cannot tell the two apart. For a worker that audits hundreds of records at once.
    """
    if not rows:
        return []
    keys = keyring()
    head_sql, insert_sql, columns = _statements()
    values_at = insert_sql.index(" VALUES ")
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    quote = connection.ops.quote_name
    pk_column = quote(str(AuditEvent._meta.pk.column if AuditEvent._meta.pk else "id"))
    events: list[AuditEvent] = []
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        cursor.execute(head_sql)
        head = cursor.fetchone()
        sequence, previous = (head[0], head[1]) if head else (0, GENESIS_HASH)
        first_keyed = head is None or not head[2]
        for start in range(0, len(rows), 500):
            chunk: list[AuditEvent] = []
            for fields in rows[start : start + 500]:
                sequence += 1
                event = AuditEvent(
                    sequence=sequence,
                    previous_hash=previous,
                    occurred_at=timezone.now(),
                    key_id=keys.current_id,
                    **fields,
                )
                event.detail = json.loads(_canonical(event.detail or {}))
                event.event_hash = keyed_hash(event, keys.current_key)
                previous = event.event_hash
                chunk.append(event)
            values = [
                field.get_db_prep_save(getattr(event, field.attname), connection)
                for event in chunk
                for field in columns
            ]
            statement = insert_sql[:values_at] + " VALUES " + ", ".join([marks] * len(chunk))
            statement += f" RETURNING {pk_column}, {quote('sequence')}"
            cursor.execute(statement, values)
            ids = dict((row[1], row[0]) for row in cursor.fetchall())
            for event in chunk:
                event.pk = ids[event.sequence]
                event._state.adding = False
                event._state.db = connection.alias
            events.extend(chunk)
        for index, event in enumerate(events):
            if (
                first_keyed and index == 0
            ) or event.sequence % settings.AUDIT_CHECKPOINT_EVERY == 0:
                transaction.on_commit(
                    functools.partial(
                        checkpoints.append_checkpoint_after_commit,
                        event.sequence,
                        event.event_hash,
                    )
                )
    return events


def checkpoint_head(path: Path | None = None) -> str | None:
    """Append a signed checkpoint of the chain's committed head now; the line (None: empty)."""
    head_sql, _, _ = _statements()
    with transaction.atomic(), connection.cursor() as cursor:
        lock_chain()  # the head cannot move while it is read
        cursor.execute(head_sql)
        head = cursor.fetchone()
    if head is None:
        return None
    return checkpoints.append_checkpoint(head[0], head[1], path)


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: intact, or the first problem (``reason``, for a person).

    ``problem`` says which kind (``edited``, ``missing``, ``relinked``, ``recomputed``,
    ``unknown_key``, ``rewritten``, ``tail_deleted``, ``forged_checkpoint``) for the tests;
    ``first_bad_id`` is the database id of the first bad event, when there is one.
    """

    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""
    problem: str = ""
    first_bad_sequence: int | None = None
    keyed: int = 0
    legacy: int = 0
    checkpoints: int = 0
    last_checkpoint: int | None = None
    checkpoint_file: str = ""


@dataclass
class _Walk:
    """The verifier's state while it walks the chain."""

    checked: int = 0
    keyed: int = 0
    legacy: int = 0
    first_keyed: int | None = None
    last_sequence: int = 0


def _event_problem(event: AuditEvent, keys: Keyring, walk: _Walk) -> tuple[str, str] | None:
    """(kind, reason) when the event's own seal does not verify."""
    number = f"event #{event.sequence}"
    if not event.key_id:
        if walk.first_keyed is not None:
            return (
                "recomputed",
                f"{number} carries a plain hash, but events are sealed with the audit key "
                f"since #{walk.first_keyed}: the chain was recomputed without the key",
            )
        if plain_hash(event) != event.event_hash:
            return "edited", f"{number}'s contents do not match its hash: it was edited"
        return None
    key = keys.get(event.key_id)
    if key is None:
        return (
            "unknown_key",
            f"{number} is sealed with the key {event.key_id!r}, which is not in the keyring "
            "(add it to PAINCLINIC_AUDIT_KEYS_FILE; see docs/audit-trail.md)",
        )
    if hmac.compare_digest(keyed_hash(event, key), event.event_hash):
        return None
    if event.event_hash == plain_hash(event):
        return (
            "recomputed",
            f"{number}'s seal was recomputed without the audit key (a plain hash where the "
            "keyed seal should be): the chain was rewritten",
        )
    return (
        "edited",
        f"{number} does not match its seal: it was edited, or re-sealed without the audit key",
    )


def _span(first: int, last: int) -> str:
    return f"event #{first} was" if first == last else f"events #{first} to #{last} were"


def verify_chain(batch_size: int = 2000, checkpoint_file: Path | None = None) -> ChainReport:
    """Walk the whole chain in sequence order and check it against the signed checkpoints.

    Reports the first problem: a forged or altered checkpoint line; an event missing from the
    sequence, re-linked, edited or sealed without the key; an event that differs from the
    checkpoint that recorded it; or a chain that ends before the last checkpoint (its latest
    events deleted).
    """
    keys = keyring()
    path = checkpoint_file or checkpoints.checkpoint_path()
    lines = checkpoints.read_checkpoints(path, keys)
    walk = _Walk()
    pinned = {line.sequence: line for line in lines if isinstance(line, checkpoints.Checkpoint)}
    last = max(pinned.values(), key=lambda line: line.sequence, default=None)

    def report(ok: bool, **found: Any) -> ChainReport:
        return ChainReport(
            ok,
            walk.checked,
            keyed=walk.keyed,
            legacy=walk.legacy,
            checkpoints=len(pinned),
            last_checkpoint=last.sequence if last else None,
            checkpoint_file=str(path),
            **found,
        )

    for line in lines:
        if isinstance(line, checkpoints.BadLine):
            return report(
                False,
                problem="forged_checkpoint",
                reason=f"checkpoint line {line.line_number} of {path} {line.reason}",
            )

    previous_hash = GENESIS_HASH
    queryset = AuditEvent.objects.order_by("sequence")
    for event in queryset.iterator(chunk_size=batch_size):
        expected = walk.last_sequence + 1
        found: tuple[str, str] | None = None
        if event.sequence != expected:
            gap = _span(expected, event.sequence - 1)
            jump = f"goes from #{expected - 1} to" if expected > 1 else "starts at"
            found = (
                "missing",
                f"{gap} deleted: the chain {jump} #{event.sequence}",
            )
        elif event.previous_hash != previous_hash:
            found = (
                "relinked",
                f"event #{event.sequence} does not link to event #{expected - 1}: "
                "its link was changed",
            )
        else:
            found = _event_problem(event, keys, walk)
        pin = pinned.get(event.sequence)
        if found is None and pin is not None and pin.head_hash != event.event_hash:
            found = (
                "rewritten",
                f"event #{event.sequence} is not the event the checkpoint of {pin.at} "
                f"(line {pin.line_number}) recorded: the chain was rewritten, or its latest "
                "events were deleted and new ones written in their place",
            )
        if found is not None:
            kind, reason = found
            return report(
                False,
                first_bad_id=event.pk,
                first_bad_sequence=event.sequence,
                problem=kind,
                reason=reason,
            )
        if event.key_id:
            walk.keyed += 1
            if walk.first_keyed is None:
                walk.first_keyed = event.sequence
        else:
            walk.legacy += 1
        previous_hash = event.event_hash
        walk.last_sequence = event.sequence
        walk.checked += 1

    if last is not None and last.sequence > walk.last_sequence:
        ends = (
            f"the chain ends at event #{walk.last_sequence}"
            if walk.last_sequence
            else "the audit trail is empty"
        )
        return report(
            False,
            problem="tail_deleted",
            first_bad_sequence=walk.last_sequence + 1,
            reason=f"{ends}, but the checkpoint of {last.at} (line {last.line_number}) records "
            f"event #{last.sequence}: {_span(walk.last_sequence + 1, last.sequence)} deleted",
        )
    return report(True)
