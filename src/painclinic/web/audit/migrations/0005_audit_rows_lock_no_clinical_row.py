"""Audit rows take no lock on the user and patient rows they name (no database foreign key).

A foreign key makes each audit insert take a share lock on the patient's row (on PostgreSQL at
commit), so a page view holding the audit chain's lock waited for a clinician editing that
patient, who waited for the chain's lock: "deadlock detected". The ORM still refuses to delete
a user or a patient an event names (PROTECT). See the lock order in docs/architecture.md.

SQLite drops a constraint by rebuilding the table, which drops its triggers: the append-only
triggers of 0002 are created again afterwards (PostgreSQL keeps them).
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

triggers = importlib.import_module("painclinic.web.audit.migrations.0002_append_only_triggers")


def _recreate_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in triggers.SQLITE_REVERSE + triggers.SQLITE:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_actor_channel"),
        ("patients", "0002_search_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="patient",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="patients.patient",
            ),
        ),
        migrations.RunPython(_recreate_sqlite_triggers, _recreate_sqlite_triggers),
    ]
