"""Give the roles the permissions of the mass-delete guard's HeldDelete model (SPEC L-5).

The roles were made by 0001 from the models of that time; a new model's permissions reach the
roles only through a migration like this one (super admins and admins hold the sync engine's).
"""

from __future__ import annotations

import importlib

from django.db import migrations

ROLES = importlib.import_module("accounts.migrations.0001_roles")
NAMES = [f"syncengine.{verb}_helddelete" for verb in ("add", "change", "delete", "view")]


def grant(apps, schema_editor) -> None:
    using = schema_editor.connection.alias
    ROLES._ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    chosen = ROLES._named(Permission, using, NAMES)
    for group in Group.objects.using(using).filter(name__in=[ROLES.SUPER_ADMIN, ROLES.ADMIN]):
        group.permissions.add(*chosen)


def revoke(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    perms = Permission.objects.using(using).filter(
        content_type__app_label="syncengine", codename__endswith="_helddelete"
    )
    for group in Group.objects.using(using).filter(name__in=[ROLES.SUPER_ADMIN, ROLES.ADMIN]):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_roles"),
        ("syncengine", "0009_held_deletes"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
