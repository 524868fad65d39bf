from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_actor_channel"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="password_must_change",
            field=models.BooleanField(default=False),
        ),
    ]
