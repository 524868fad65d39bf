"""Tampering with the audit trail behind the app's back is detected and named.

The attacker here can write to the database (the append-only triggers dropped first, as an
administrator's connection could) but holds neither the audit key, kept outside the database,
nor the checkpoint file the clinic ships off the machine. Each test tampers one way and checks
that ``painclinic audit verify`` exits 1 naming the first problem; the triggers come back with
the test's rolled-back transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from typer.testing import CliRunner

from painclinic.cli import app
from painclinic.web.accounts.models import Role
from painclinic.web.audit import checkpoints
from painclinic.web.audit.chain import (
    GENESIS_HASH,
    checkpoint_head,
    keyed_hash,
    plain_hash,
    verify_chain,
)
from painclinic.web.audit.keys import KeyringError, build_keyring, parse_keyring
from painclinic.web.audit.models import Action, AuditEvent, Category
from painclinic.web.audit.services import audit
from tests.conftest import actor_as

KEY_1 = "k1-" + "a" * 61
KEY_2 = "k2-" + "b" * 61


@pytest.fixture(autouse=True)
def audit_key(settings):
    """A known key, as production configures it (PAINCLINIC_AUDIT_KEY_FILE, id k1)."""
    settings.AUDIT_KEY = KEY_1
    settings.AUDIT_KEY_ID = "k1"
    settings.AUDIT_KEYS = None


def record_views(users, patient, count: int) -> list[AuditEvent]:
    actor = actor_as(users[Role.NURSE], "/patients/1/")
    for _ in range(count):
        audit(actor, category=Category.DEMOGRAPHICS, action=Action.VIEW, patient=patient)
    return list(AuditEvent.objects.order_by("sequence"))


def drop_triggers() -> None:
    """What an attacker with an administrator's database connection does first."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER audit_event_no_delete")
        else:
            cursor.execute("DROP TRIGGER audit_event_no_update_delete ON audit_auditevent")


def execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def delete(*events: AuditEvent) -> None:
    for event in events:
        execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])


def verify_from_the_command_line(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", *args])
    return result.exit_code, result.output


def assert_broken(problem: str, *, sequence: int | None, says: str) -> None:
    report = verify_chain()
    assert not report.ok
    assert report.problem == problem, report.reason
    assert report.first_bad_sequence == sequence, report.reason
    assert says in report.reason, report.reason
    code, output = verify_from_the_command_line()
    assert code == 1, output
    assert "BROKEN" in output and says in output, output


# --- intact ---------------------------------------------------------------------------------


def test_an_intact_keyed_chain_verifies_with_its_counts(users, patient):
    record_views(users, patient, 5)
    checkpoint_head()
    code, output = verify_from_the_command_line()
    assert code == 0, output
    assert "intact: 5 events verified (5 sealed with a key)" in output
    assert "1 checkpoint in" in output and "the last at event #5" in output


def test_every_event_is_sealed_with_the_current_key_and_records_its_id(users, patient):
    event = record_views(users, patient, 1)[0]
    assert event.key_id == "k1"
    assert event.event_hash == keyed_hash(event, KEY_1.encode())
    assert event.event_hash != plain_hash(event)


def test_events_from_before_keys_still_verify_and_the_chain_goes_on_keyed(users, patient):
    """An existing database: its plain-hash events, then the new keyed ones."""
    previous = GENESIS_HASH
    for sequence in (1, 2, 3):
        event = AuditEvent(
            sequence=sequence,
            occurred_at=dt.datetime(2026, 1, 5, 9, sequence, tzinfo=dt.UTC),
            actor_username="legacy",
            category=Category.DEMOGRAPHICS,
            action=Action.VIEW,
            previous_hash=previous,
        )
        event.event_hash = previous = plain_hash(event)
        event.save()
    events = record_views(users, patient, 2)
    assert [e.key_id for e in events] == ["", "", "", "k1", "k1"]
    report = verify_chain()
    assert report.ok, report.reason
    assert (report.legacy, report.keyed) == (3, 2)


# --- edit, delete in the middle -------------------------------------------------------------


def test_an_edited_event_is_named(users, patient):
    victim = record_views(users, patient, 4)[1]
    drop_triggers()
    execute(
        "UPDATE audit_auditevent SET actor_username = 'someone_else' WHERE id = %s", [victim.pk]
    )
    assert_broken("edited", sequence=2, says="event #2")
    assert verify_chain().first_bad_id == victim.pk


def test_an_event_deleted_in_the_middle_is_named(users, patient):
    events = record_views(users, patient, 5)
    drop_triggers()
    delete(events[1], events[2])
    assert_broken(
        "missing", sequence=4, says="events #2 to #3 were deleted: the chain goes from #1 to #4"
    )


# --- delete the tail ------------------------------------------------------------------------


def test_deleting_the_latest_events_is_detected_by_the_last_checkpoint(users, patient):
    events = record_views(users, patient, 6)
    checkpoint_head()
    drop_triggers()
    delete(events[-1], events[-2])
    assert_broken(
        "tail_deleted",
        sequence=5,
        says="the chain ends at event #4, but the checkpoint",
    )
    assert "events #5 to #6 were deleted" in verify_chain().reason


def test_deleting_every_event_is_detected(users, patient):
    events = record_views(users, patient, 3)
    checkpoint_head()
    drop_triggers()
    delete(*events)
    assert_broken("tail_deleted", sequence=1, says="the audit trail is empty")


def test_deleting_the_tail_and_writing_on_is_detected_at_the_checkpoint(users, patient):
    events = record_views(users, patient, 5)
    checkpoint_head()
    drop_triggers()
    delete(events[-1], events[-2])
    record_views(users, patient, 3)  # the app carries on: #4 and #5 are new events
    assert_broken("rewritten", sequence=5, says="event #5 is not the event the checkpoint")


def test_without_a_checkpoint_the_latest_events_are_not_pinned(users, patient):
    """What the checkpoints are for (and why the writer appends one every N events)."""
    events = record_views(users, patient, 4)
    drop_triggers()
    delete(events[-1])
    assert verify_chain().ok


# --- recompute every hash without the key ---------------------------------------------------


def rewrite_chain(events: list[AuditEvent], seal, *, key_id: str | None = None) -> None:
    """Re-seal every event, in order, after changing the second one (as an attacker would)."""
    previous = GENESIS_HASH
    for index, event in enumerate(events):
        if index == 1:
            event.actor_username = "someone_else"
        if key_id is not None:
            event.key_id = key_id
        event.previous_hash = previous
        event.event_hash = previous = seal(event)
        execute(
            "UPDATE audit_auditevent SET actor_username = %s, key_id = %s, previous_hash = %s, "
            "event_hash = %s WHERE id = %s",
            [event.actor_username, event.key_id, event.previous_hash, event.event_hash, event.pk],
        )


def test_a_chain_recomputed_with_the_public_hash_is_detected(users, patient):
    events = record_views(users, patient, 4)
    drop_triggers()
    rewrite_chain(events, plain_hash)
    assert_broken("recomputed", sequence=1, says="recomputed without the audit key")


def test_a_chain_recomputed_as_if_from_before_keys_is_detected_at_the_first_keyed_event(
    users, patient, django_capture_on_commit_callbacks
):
    """Plain hashes with the key ids blanked verify as a chain, but the checkpoint the writer
    made at the first keyed event names a different event #1."""
    with django_capture_on_commit_callbacks(execute=True):
        events = record_views(users, patient, 4)
    drop_triggers()
    rewrite_chain(events, plain_hash, key_id="")
    assert_broken("rewritten", sequence=1, says="event #1 is not the event the checkpoint")


def test_a_plain_hash_after_keyed_events_is_detected(users, patient):
    events = record_views(users, patient, 4)
    drop_triggers()
    rewrite_chain(events[2:], plain_hash, key_id="")  # the attacker re-seals from #3 on
    report = verify_chain()
    assert report.problem in {"relinked", "recomputed"}, report.reason
    assert report.first_bad_sequence == 3


def test_a_chain_re_sealed_with_another_key_is_detected(users, patient):
    events = record_views(users, patient, 4)
    drop_triggers()
    rewrite_chain(events, lambda event: keyed_hash(event, b"the attacker's own key" * 2))
    assert_broken("edited", sequence=1, says="event #1 does not match its seal")


# --- forge a checkpoint ---------------------------------------------------------------------


def test_a_forged_checkpoint_line_is_named(users, patient, settings):
    events = record_views(users, patient, 3)
    checkpoint_head()
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    body = f"{checkpoints.PREFIX} seq=2 head={events[1].event_hash} at={at} key=k1"
    forged_mac = hmac.new(b"a guessed key", body.encode(), hashlib.sha256).hexdigest()
    with Path(settings.AUDIT_CHECKPOINT_FILE).open("a") as handle:
        handle.write(f"{body} mac={forged_mac}\n")
    assert_broken("forged_checkpoint", sequence=None, says="checkpoint line 2")
    assert "forged or altered" in verify_chain().reason


def test_an_altered_checkpoint_line_is_named(users, patient, settings):
    record_views(users, patient, 3)
    checkpoint_head()
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    path.write_text(path.read_text().replace(" seq=3 ", " seq=2 "))
    assert_broken("forged_checkpoint", sequence=None, says="checkpoint line 1")


def test_verify_checks_against_the_copy_shipped_off_the_machine(users, patient, settings, tmp_path):
    """The attacker also emptied the local checkpoint file; the shipped copy still has it."""
    events = record_views(users, patient, 4)
    checkpoint_head()
    shipped = tmp_path / "shipped-checkpoints.log"
    shipped.write_bytes(Path(settings.AUDIT_CHECKPOINT_FILE).read_bytes())
    drop_triggers()
    delete(events[-1])
    Path(settings.AUDIT_CHECKPOINT_FILE).write_text("")
    assert verify_chain().ok
    code, output = verify_from_the_command_line("--checkpoints", str(shipped))
    assert code == 1
    assert "event #4 was deleted" in output


# --- checkpoints written by the app ---------------------------------------------------------


def test_the_writer_appends_a_checkpoint_every_n_events_after_commit(
    users, patient, settings, django_capture_on_commit_callbacks
):
    settings.AUDIT_CHECKPOINT_EVERY = 5
    with django_capture_on_commit_callbacks(execute=True):
        events = record_views(users, patient, 12)
    lines = checkpoints.read_checkpoints(Path(settings.AUDIT_CHECKPOINT_FILE))
    # The first keyed event pins where keys began; then every fifth.
    assert [(c.sequence, c.head_hash) for c in lines] == [
        (e.sequence, e.event_hash) for e in events if e.sequence in (1, 5, 10)
    ]
    assert verify_chain().ok


def test_a_batch_of_events_is_sealed_linked_and_checkpointed_like_single_ones(
    users, patient, settings, django_capture_on_commit_callbacks
):
    """The worker's batched appends (audit_each) make the same chain as one-by-one appends:
    the same links and seals (verify passes, then detects an edit in the batch), and the same
    checkpoints every N events, after the commit."""
    from painclinic.web.audit.services import audit_each

    settings.AUDIT_CHECKPOINT_EVERY = 5
    actor = actor_as(users[Role.NURSE], "worker")
    with django_capture_on_commit_callbacks(execute=True):
        record_views(users, patient, 2)
        with transaction.atomic():
            audit_each(
                actor,
                category=Category.DEMOGRAPHICS,
                action=Action.VIEW,
                events=[(patient, None, {"n": n}) for n in range(10)],
            )
        record_views(users, patient, 1)
    events = list(AuditEvent.objects.order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, 14))
    assert [e.detail.get("n") for e in events[2:12]] == list(range(10))
    lines = checkpoints.read_checkpoints(Path(settings.AUDIT_CHECKPOINT_FILE))
    assert [(c.sequence, c.head_hash) for c in lines] == [
        (e.sequence, e.event_hash) for e in events if e.sequence in (1, 5, 10)
    ]
    assert verify_chain().ok
    drop_triggers()
    execute("UPDATE audit_auditevent SET detail = %s WHERE sequence = %s", ['{"n": 99}', 7])
    report = verify_chain()
    assert not report.ok and report.first_bad_sequence == 7, report.reason


def test_a_rolled_back_event_leaves_no_checkpoint(users, patient, settings):
    settings.AUDIT_CHECKPOINT_EVERY = 1
    with pytest.raises(RuntimeError), transaction.atomic():
        record_views(users, patient, 1)
        raise RuntimeError("the service failed after auditing")
    assert not Path(settings.AUDIT_CHECKPOINT_FILE).exists()


def test_a_checkpoint_that_cannot_be_written_is_logged_not_raised(
    users, patient, settings, tmp_path, caplog, django_capture_on_commit_callbacks
):
    settings.AUDIT_CHECKPOINT_EVERY = 1
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.AUDIT_CHECKPOINT_FILE = blocker / "audit-checkpoints.log"
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        record_views(users, patient, 1)
    assert "could not write the checkpoint of event #1" in caplog.text


def test_the_checkpoint_command_appends_a_signed_line(users, patient, settings):
    record_views(users, patient, 2)
    result = CliRunner().invoke(app, ["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    line = Path(settings.AUDIT_CHECKPOINT_FILE).read_text().strip()
    assert line in result.output
    assert line.startswith(f"{checkpoints.PREFIX} seq=2 head=")
    assert "key=k1 mac=" in line


def test_the_checkpoint_command_on_an_empty_trail_writes_nothing(db, settings):
    result = CliRunner().invoke(app, ["audit", "checkpoint"])
    assert result.exit_code == 0
    assert "nothing to checkpoint" in result.output
    assert not Path(settings.AUDIT_CHECKPOINT_FILE).exists()


# --- keys: rotation, development, production ------------------------------------------------


def test_after_a_rotation_old_events_verify_with_their_key_from_the_keyring(
    users, patient, settings
):
    record_views(users, patient, 2)
    settings.AUDIT_KEY, settings.AUDIT_KEY_ID = KEY_2, "k2"
    settings.AUDIT_KEYS = f"k1={KEY_1}"
    events = record_views(users, patient, 2)
    assert [e.key_id for e in events] == ["k1", "k1", "k2", "k2"]
    assert verify_chain().ok

    settings.AUDIT_KEYS = None  # the old key thrown away too early
    report = verify_chain()
    assert report.problem == "unknown_key" and report.first_bad_sequence == 1
    assert "'k1', which is not in the keyring" in report.reason


def test_the_keyring_file_alone_names_the_current_key(users, patient, settings):
    settings.AUDIT_KEY, settings.AUDIT_KEY_ID = None, None
    settings.AUDIT_KEYS = f"# rotated 2026-03\nk1={KEY_1}\nk2={KEY_2}\n"
    assert record_views(users, patient, 1)[0].key_id == "k2"  # the last line
    settings.AUDIT_KEY_ID = "k1"
    assert record_views(users, patient, 1)[-1].key_id == "k1"
    assert verify_chain().ok


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("k1=short", "at least 32"),
        (f"k1={KEY_1}\nk1={KEY_2}", "appears twice"),
        (f"bad id={KEY_1}", "key id"),
        (KEY_1, "not 'id=key'"),
    ],
)
def test_a_malformed_keyring_is_refused_naming_the_setting(text, says):
    with pytest.raises(KeyringError, match=says) as refused:
        parse_keyring(text, "PAINCLINIC_AUDIT_KEYS")
    assert "PAINCLINIC_AUDIT_KEYS" in str(refused.value)


def test_production_without_a_key_is_refused():
    with pytest.raises(KeyringError, match="PAINCLINIC_AUDIT_KEY_FILE"):
        build_keyring(None, None, None, None)


def test_development_generates_a_key_file_on_first_use_and_says_so(tmp_path, caplog):
    path = tmp_path / "data" / "audit-keys"
    with caplog.at_level(logging.WARNING, logger="painclinic.audit"):
        first = build_keyring(None, None, None, path)
    assert "generated a development key in" in caplog.text and str(path) in caplog.text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = build_keyring(None, None, None, path)
    assert (again.current_id, again.current_key) == (first.current_id, first.current_key)
    assert len(first.current_key) >= 32


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAINCLINIC_")},
        "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
        "PAINCLINIC_ENV": "production",
        "PAINCLINIC_SECRET_KEY": "production-secret-key-for-the-check-only-0123456789",
        "PAINCLINIC_ALLOWED_HOSTS": "clinic.example.org",
        "PAINCLINIC_DATA_DIR": str(tmp_path),
        **extra,
    }


def start_django(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_an_audit_key(tmp_path):
    result = start_django(production_env(tmp_path))
    assert result.returncode != 0
    assert "PAINCLINIC_AUDIT_KEY_FILE" in result.stderr
    assert not (tmp_path / "audit-keys").exists()


def test_production_starts_with_a_key_file(tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text(KEY_1 + "\n")
    result = start_django(production_env(tmp_path, PAINCLINIC_AUDIT_KEY_FILE=str(key_file)))
    assert result.returncode == 0, result.stderr


def test_the_writer_uses_the_configured_key_not_the_databases(users, patient, settings):
    """Nothing of the key is stored with the events: another key does not verify them."""
    record_views(users, patient, 2)
    stored = AuditEvent.objects.values_list("key_id", "event_hash")
    assert all(KEY_1 not in str(row) for row in stored)
    settings.AUDIT_KEY = "k1-" + "c" * 61  # same id, another key: an attacker's guess
    assert verify_chain().problem == "edited"
