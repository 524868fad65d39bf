"""Every audit event says through what (web, api, cli, worker) and from where the action came.

SQLite adds a column by rebuilding the table, which drops its triggers: the append-only
triggers of 0002 are created again afterwards (PostgreSQL keeps them).
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
    dependencies = [
        ("audit", "0003_treatment_workflow_categories"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="channel",
            field=models.CharField(blank=True, max_length=10),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="origin",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(_recreate_sqlite_triggers, migrations.RunPython.noop),
    ]
