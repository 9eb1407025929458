"""A GIN index over record properties on PostgreSQL, for containment filters (multi-select).

SQLite has no GIN indexes, so this migration does nothing there.
"""

from django.db import migrations

INDEX = "crm_record_properties_gin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON crm_record "
            "USING gin (properties jsonb_path_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0003_purge_schedule")]
    operations = [migrations.RunPython(create, drop)]
