"""Writing and verifying the audit hash chain.

Each event's hash covers its own fields and the previous event's hash, so editing, deleting or
reordering any row out of band breaks every later link. Writers serialise on the chain head: an
advisory transaction lock on PostgreSQL, the IMMEDIATE write transaction on SQLite.

The chain's lock is the first lock of every write transaction that audits (the lock order in
docs/architecture.md): ``write_transaction`` opens the transaction and takes it before the
service body locks any clinical row, and audit rows take no lock on the rows they name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from painclinic.web.audit.models import AuditEvent

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 7_310_021  # arbitrary constant shared by every painclinic writer


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
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
    return hashlib.sha256(_canonical(fields)).hexdigest()


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
    "event_hash",
)


def _statements() -> tuple[str, str, list[Any]]:
    """The head read and the insert, from the model's own table and column names (no input)."""
    meta = AuditEvent._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [cast(Field, meta.get_field(name)) for name in _INSERTED_FIELDS]
    head = f"SELECT {quote('sequence')}, {quote('event_hash')} FROM {table} "  # noqa: S608
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
    own ``get_db_prep_save``, exactly as ``Model.save()`` would send them.
    """
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
            **fields,
        )
        # JSON round-trip so the hash covers exactly what the database will return.
        event.detail = json.loads(_canonical(event.detail or {}))
        event.event_hash = compute_hash(event)
        values = [
            field.get_db_prep_save(getattr(event, field.attname), connection) for field in columns
        ]
        cursor.execute(insert_sql, values)
        event.pk = cursor.fetchone()[0]
        event._state.adding = False
        event._state.db = connection.alias
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""


def verify_chain(batch_size: int = 2000) -> ChainReport:
    """Walk the whole chain in sequence order; report the first event that does not verify."""
    previous_hash = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    queryset = AuditEvent.objects.order_by("sequence")
    for event in queryset.iterator(chunk_size=batch_size):
        if event.sequence != expected_sequence:
            return ChainReport(
                False,
                checked,
                event.pk,
                f"sequence {event.sequence} found where {expected_sequence} was expected "
                "(an event was deleted or inserted)",
            )
        if event.previous_hash != previous_hash:
            return ChainReport(False, checked, event.pk, "previous_hash does not match the chain")
        if compute_hash(event) != event.event_hash:
            return ChainReport(False, checked, event.pk, "contents do not match the event's hash")
        previous_hash = event.event_hash
        expected_sequence += 1
        checked += 1
    return ChainReport(True, checked)
