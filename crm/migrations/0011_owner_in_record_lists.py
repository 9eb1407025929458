"""Show the owner on every record list (HubSpot's "Contact owner" column), after the columns
staff chose; a list that shows it already is left alone, and so is a type whose `owner`
property is not an owner (one staff made before owners existed: 0010 keeps it)."""

from django.db import migrations

OWNER = "owner"


def add_owner_column(apps, schema_editor):
    ObjectType = apps.get_model("crm", "ObjectType")
    owned = ObjectType.objects.filter(
        property_definitions__name=OWNER, property_definitions__type=OWNER
    )
    for object_type in owned:
        columns = list(object_type.list_properties or [])
        if OWNER not in columns:
            object_type.list_properties = [*columns, OWNER]
            object_type.save(update_fields=["list_properties"])


def keep_columns(apps, schema_editor):
    """Nothing to undo safely: the forward kept no note of which lists it added the column to,
    and a list that showed `owner` before (staff's choice) must keep it. A column left behind
    is harmless: record lists show only the columns naming an existing property, and 0010's
    reverse removes the owner property itself."""


class Migration(migrations.Migration):
    dependencies = [("crm", "0010_owners")]

    operations = [migrations.RunPython(add_owner_column, keep_columns)]
