from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("syncengine", "0007_delete_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="recordlink",
            name="dormant",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="referencemapping",
            name="junction_watermark",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
