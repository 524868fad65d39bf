"""Each audit event records the id of the key that sealed it ("" for the plain SHA-256 events
written before keys existed, which keep verifying).

SQLite adds a column by rebuilding the table, which drops its triggers: the append-only
triggers of 0002 are created again afterwards (PostgreSQL keeps them; adding a column with a
default does not rewrite or update its rows).
"""

import importlib

from django.db import migrations, models

triggers = importlib.import_module("painclinic.web.audit.migrations.0002_append_only_triggers")


def _recreate_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in triggers.SQLITE_REVERSE + triggers.SQLITE:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_audit_rows_lock_no_clinical_row")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.RunPython(_recreate_sqlite_triggers, _recreate_sqlite_triggers),
    ]
