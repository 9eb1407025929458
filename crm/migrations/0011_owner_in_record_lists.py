"""Show the owner on every record list (HubSpot's "Contact owner" column), after the columns
staff chose; a list that shows it already is left alone."""

from django.db import migrations


def add_owner_column(apps, schema_editor):
    ObjectType = apps.get_model("crm", "ObjectType")
    for object_type in ObjectType.objects.all():
        columns = list(object_type.list_properties or [])
        if "owner" not in columns:
            object_type.list_properties = [*columns, "owner"]
            object_type.save(update_fields=["list_properties"])


def remove_owner_column(apps, schema_editor):
    ObjectType = apps.get_model("crm", "ObjectType")
    for object_type in ObjectType.objects.all():
        columns = list(object_type.list_properties or [])
        if "owner" in columns:
            object_type.list_properties = [c for c in columns if c != "owner"]
            object_type.save(update_fields=["list_properties"])


class Migration(migrations.Migration):
    dependencies = [("crm", "0010_owners")]

    operations = [migrations.RunPython(add_owner_column, remove_owner_column)]
