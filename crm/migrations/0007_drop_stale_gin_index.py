"""Drop the GIN index over record properties where an earlier migration left it.

`0004_postgresql_gin_index` created `crm_record_properties_gin`; commit 8bf04ee deleted that
migration (the index halved write throughput and no filter used it) instead of adding one that
drops the index, so databases migrated before then still carry it and pay for it on every write.
This migration removes it where it exists and does nothing elsewhere (SQLite has no GIN index).
Reversing it does not bring the index back: nothing reads it.
"""

from django.db import migrations

STALE_INDEX = "crm_record_properties_gin"


def drop_stale_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {STALE_INDEX}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0006_sync_property_sweep")]
    operations = [migrations.RunPython(drop_stale_index, migrations.RunPython.noop)]
