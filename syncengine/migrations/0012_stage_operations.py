"""Every stage operation of a cycle, in cycle order (pull merges, reconcile, push restores and
push deletes joined them with the record lifecycle)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("syncengine", "0011_reconciliation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncstage",
            name="operation",
            field=models.CharField(
                choices=[
                    ("sync_schema", "Sync schema"),
                    ("pull_updates", "Pull updates"),
                    ("pull_merges", "Pull merges"),
                    ("pull_deletes", "Pull deletes"),
                    ("pull_conversions", "Pull conversions"),
                    ("reconcile", "Reconcile"),
                    ("push_new", "Push new"),
                    ("push_updates", "Push updates"),
                    ("push_restores", "Push restores"),
                    ("push_deletes", "Push deletes"),
                    ("update_foreign_keys", "Update foreign keys"),
                ],
                max_length=30,
            ),
        ),
    ]
