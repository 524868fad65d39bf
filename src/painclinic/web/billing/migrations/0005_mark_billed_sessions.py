"""Sessions billed before the flag existed are marked billed (their live charges say so)."""

from django.db import migrations


def mark(apps, schema_editor):
    Charge = apps.get_model("billing", "Charge")
    InfusionSession = apps.get_model("infusions", "InfusionSession")
    live = Charge.objects.filter(session__isnull=False, credited_by__isnull=True).values(
        "session_id"
    )
    InfusionSession.objects.filter(pk__in=live).update(billed=True)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_line_ordering"),
        ("infusions", "0008_session_billed_flag"),
    ]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
