"""One running or paused infusion per patient (a partial unique constraint), the physician's
reason for opening a chart on another day than its booking's, and the double check's reason
for a 24-hour total above a soft limit."""

from django.db import migrations, models


def refuse_two_running_infusions(apps, schema_editor):
    """The constraint cannot be added while a patient has two running or paused infusions (the
    defect it closes): name them, so that one is stopped first. Nothing is changed here."""
    session = apps.get_model("infusions", "InfusionSession")
    seen: dict[int, int] = {}
    clashes = []
    for pk, patient_id in (
        session.objects.filter(status__in=["running", "paused"])
        .order_by("patient_id", "pk")
        .values_list("pk", "patient_id")
    ):
        if patient_id in seen:
            clashes.append(f"patient {patient_id}: sessions {seen[patient_id]} and {pk}")
        seen.setdefault(patient_id, pk)
    if clashes:
        raise RuntimeError(
            "Stop one of each patient's two running or paused infusions before this upgrade "
            "(one infusion per patient at a time): " + "; ".join(clashes)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("infusions", "0005_cancellation_and_sae_report"),
    ]

    operations = [
        migrations.AddField(
            model_name="doublecheck",
            name="limit_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="infusionsession",
            name="opened_off_day_reason",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(refuse_two_running_infusions, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="infusionsession",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["running", "paused"])),
                fields=("patient",),
                name="one_running_infusion_per_patient",
            ),
        ),
    ]
