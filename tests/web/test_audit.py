"""The audit trail: reads and writes recorded, append-only, tamper-evident, reportable."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection, transaction
from django.urls import reverse
from typer.testing import CliRunner

from painclinic.cli import app
from painclinic.web.accounts.models import Role
from painclinic.web.audit.chain import verify_chain
from painclinic.web.audit.models import Action, AppendOnlyError, AuditEvent, Category


def latest_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-sequence").first()


def test_viewing_a_record_writes_one_read_event_with_who_what_where(users, patient, client_for):
    client = client_for(Role.NURSE)
    before = AuditEvent.objects.count()
    response = client.get(
        reverse("patients:detail", kwargs={"patient_id": patient.pk}), REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 200
    assert AuditEvent.objects.count() == before + 1
    event = latest_event()
    assert (event.actor, event.actor_role, event.patient) == (users[Role.NURSE], "nurse", patient)
    assert (event.category, event.action, event.outcome) == ("demographics", "view", "success")
    assert event.client_ip == "10.1.2.3"
    assert event.occurred_at.utcoffset().total_seconds() == 0


def test_an_edit_records_the_before_and_after_of_changed_fields(patient, client_for):
    client = client_for(Role.FRONT_DESK)
    url = reverse("patients:edit", kwargs={"patient_id": patient.pk})
    form = client.get(url).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data["phone"] = "(613) 555-0199"
    response = client.post(url, data)
    assert response.status_code == 302, response.content
    event = AuditEvent.objects.filter(action=Action.UPDATE).order_by("-sequence").first()
    assert event.detail["before"] == {"phone": "(416) 555-0142"}
    assert event.detail["after"] == {"phone": "(613) 555-0199"}


def test_audit_events_cannot_be_changed_or_deleted_through_the_orm(patient, client_for):
    client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    event = latest_event()
    event.action = "login"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="login")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_the_database_itself_refuses_update_and_delete(patient, client_for):
    client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    event = latest_event()
    for statement in (
        "UPDATE audit_auditevent SET action = 'login' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])


def _drop_triggers() -> None:
    """What an attacker with an admin database connection would do first."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER audit_event_no_delete")
        else:
            cursor.execute("DROP TRIGGER audit_event_no_update_delete ON audit_auditevent")


def test_editing_a_row_behind_the_apps_back_is_detected(patient, client_for):
    client = client_for(Role.NURSE)
    for _ in range(3):
        client.get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    assert verify_chain().ok
    victim = AuditEvent.objects.order_by("sequence")[1]
    _drop_triggers()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET actor_username = 'someone_else' WHERE id = %s",
            [victim.pk],
        )
    report = verify_chain()
    assert not report.ok
    assert report.first_bad_id == victim.pk

    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"event {victim.pk}" in result.output


def test_deleting_a_row_behind_the_apps_back_is_detected(patient, client_for):
    client = client_for(Role.NURSE)
    for _ in range(3):
        client.get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    events = list(AuditEvent.objects.order_by("sequence"))
    _drop_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = verify_chain()
    assert not report.ok
    assert report.first_bad_id == events[2].pk


def test_an_intact_chain_verifies_from_the_command_line(patient, client_for):
    client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_role_changes_are_audited(users, client_for):
    nurse = users[Role.NURSE]
    response = client_for(Role.CLINIC_ADMIN).post(
        reverse("accounts:staff_role", kwargs={"user_id": nurse.pk}),
        {"role": "physician", "reason": "Finished residency"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action=Action.ROLE_CHANGE).get()
    assert event.detail == {
        "username": nurse.username,
        "before": "nurse",
        "after": "physician",
        "reason": "Finished residency",
    }


def _csv_rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_report_filters_by_user_and_patient_and_exports_csv(users, patient, client_for):
    other = type(patient).objects.create(
        legal_given_name="Grace",
        legal_family_name="Hopper",
        date_of_birth="1960-01-01",
        sex_at_birth="female",
    )
    client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    client_for(Role.PHYSICIAN).get(reverse("patients:detail", kwargs={"patient_id": other.pk}))
    admin = client_for(Role.CLINIC_ADMIN)

    page = admin.get(reverse("audit:report"), {"user": users[Role.NURSE].username})
    assert {e.actor_username for e in page.context["page"]} == {users[Role.NURSE].username}

    rows = _csv_rows(admin.get(reverse("audit:export"), {"patient": other.pk, "sort": "oldest"}))
    assert rows and {r["patient_id"] for r in rows} == {str(other.pk)}
    assert [int(r["sequence"]) for r in rows] == sorted(int(r["sequence"]) for r in rows)
    # Each row says through what and from where: here the physician's page view.
    assert {(r["channel"], r["origin"]) for r in rows} == {
        ("web", reverse("patients:detail", kwargs={"patient_id": other.pk}))
    }
    assert AuditEvent.objects.filter(action=Action.EXPORT, category=Category.AUDIT).exists()
    assert "web page" in page.content.decode()


def test_the_channel_and_origin_are_covered_by_the_hash(users, patient):
    from painclinic.web.audit.chain import compute_hash
    from painclinic.web.audit.services import audit
    from painclinic.web.lib.actor import Actor, Channel

    event = audit(
        Actor(users[Role.NURSE], Channel.WORKER, "reminders: send due"),
        category=Category.DEMOGRAPHICS,
        action=Action.VIEW,
        patient=patient,
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.channel, stored.origin) == ("worker", "reminders: send due")
    assert compute_hash(stored) == stored.event_hash
    for forged in ({"channel": "web"}, {"origin": "/patients/"}, {"channel": "", "origin": ""}):
        copy = AuditEvent.objects.get(pk=event.pk)
        for name, value in forged.items():
            setattr(copy, name, value)
        assert compute_hash(copy) != stored.event_hash, forged


def test_report_sort_is_allowlisted(client_for):
    admin = client_for(Role.CLINIC_ADMIN)
    response = admin.get(reverse("audit:report"), {"sort": "password; DROP TABLE x"})
    assert response.status_code == 200
    assert response.context["form"].errors["sort"]
    sequences = [e.sequence for e in response.context["page"]]
    assert sequences == sorted(sequences, reverse=True)


def test_report_date_range_excludes_other_days(client_for, patient, time_machine):
    import datetime as dt

    time_machine.move_to(dt.datetime(2026, 3, 1, 15, 0, tzinfo=dt.UTC))
    client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    time_machine.move_to(dt.datetime(2026, 3, 5, 15, 0, tzinfo=dt.UTC))
    admin = client_for(Role.CLINIC_ADMIN)
    page = admin.get(reverse("audit:report"), {"date_from": "2026-03-01", "date_to": "2026-03-01"})
    days = {e.occurred_at.date() for e in page.context["page"]}
    assert days == {dt.date(2026, 3, 1)}


def test_clinic_admin_creates_a_staff_account_and_it_is_audited(client_for):
    response = client_for(Role.CLINIC_ADMIN).post(
        reverse("accounts:staff_create"),
        {
            "username": "rn_new",
            "first_name": "New",
            "last_name": "Nurse",
            "email": "",
            "role": "nurse",
            "registration_number": "CNO 1",
            "password": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action=Action.CREATE, category=Category.ACCOUNT).get()
    assert event.detail == {"username": "rn_new", "role": "nurse"}


def test_a_weak_staff_password_is_refused_with_the_field_named(client_for):
    from painclinic.web.accounts.models import User

    response = client_for(Role.CLINIC_ADMIN).post(
        reverse("accounts:staff_create"),
        {
            "username": "rn_weak",
            "first_name": "Weak",
            "last_name": "Password",
            "role": "nurse",
            "password": "password123",
        },
    )
    assert response.status_code == 200
    assert "password" in response.context["form"].errors
    assert not User.objects.filter(username="rn_weak").exists()


def test_report_lists_every_event_including_its_own_view(patient, client_for):
    client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    response = client_for(Role.CLINIC_ADMIN).get(reverse("audit:report"))
    listed = [e.sequence for e in response.context["page"]]
    assert listed == list(range(AuditEvent.objects.count(), 0, -1))
