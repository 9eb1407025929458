"""Owners synced with Salesforce users: the RemoteOwner link, the Users stage, and OwnerId
mapped to the owner property on the default objects of existing Salesforce integrations (new
integrations get it from DEFAULT_MAPPINGS)."""

import django.db.models.deletion
from django.db import migrations, models

# Frozen here: the migration must not change when the defaults do.
OWNER_OBJECTS = ("Account", "Contact", "Lead", "Opportunity", "Task")


def map_owner_id(apps, schema_editor):
    ObjectMapping = apps.get_model("syncengine", "ObjectMapping")
    FieldMapping = apps.get_model("syncengine", "FieldMapping")
    Property = apps.get_model("crm", "Property")
    mappings = ObjectMapping.objects.filter(
        integration__kind="salesforce", remote_object__in=OWNER_OBJECTS
    )
    for om in mappings.iterator():
        owner = Property.objects.filter(object_type_id=om.object_type_id, name="owner").first()
        taken = FieldMapping.objects.filter(object_mapping=om, remote_field="OwnerId").exists()
        if owner is None or taken:
            continue  # a staff-made OwnerId mapping stays as it is
        FieldMapping.objects.create(
            object_mapping=om,
            property=owner,
            remote_field="OwnerId",
            rule="two_way",
            is_default=True,
            value_map={},
        )


def unmap_owner_id(apps, schema_editor):
    FieldMapping = apps.get_model("syncengine", "FieldMapping")
    FieldMapping.objects.filter(
        remote_field="OwnerId", property__name="owner", is_default=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0010_owners"),
        ("syncengine", "0015_sync_error_list_and_new_since_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncstage",
            name="operation",
            field=models.CharField(
                choices=[
                    ("sync_schema", "Sync schema"),
                    ("pull_users", "Pull users"),
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
        migrations.CreateModel(
            name="RemoteOwner",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("remote_id", models.CharField(max_length=100)),
                ("is_active", models.BooleanField(default=True)),
                ("remote_modstamp", models.DateTimeField(blank=True, null=True)),
                ("synced_at", models.DateTimeField(auto_now=True)),
                (
                    "integration",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="remote_owners",
                        to="syncengine.integration",
                    ),
                ),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="remote_users",
                        to="crm.owner",
                    ),
                ),
            ],
            options={
                "default_permissions": (),
                "constraints": [
                    models.UniqueConstraint(
                        fields=("integration", "owner"), name="syncengine_remote_owner_unique_owner"
                    ),
                    models.UniqueConstraint(
                        fields=("integration", "remote_id"),
                        name="syncengine_remote_owner_unique_remote",
                    ),
                ],
            },
        ),
        migrations.RunPython(map_owner_id, unmap_owner_id),
    ]
