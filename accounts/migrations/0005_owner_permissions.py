"""Give the roles the permissions of crm's Owner model (issue 19).

Super admins and admins manage owners (add, change; owners are deactivated, never deleted from
the admin); users read them, so a record's owner shows by name and "My records" works for them.
"""

from __future__ import annotations

import importlib

from django.db import migrations

ROLES = importlib.import_module("accounts.migrations.0001_roles")
MANAGE = [f"crm.{verb}_owner" for verb in ("add", "change", "delete", "view")]
READ = ["crm.view_owner"]
GRANTS = {ROLES.SUPER_ADMIN: MANAGE, ROLES.ADMIN: MANAGE, ROLES.USER: READ}


def grant(apps, schema_editor) -> None:
    using = schema_editor.connection.alias
    ROLES._ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.using(using).filter(name__in=GRANTS):
        group.permissions.add(*ROLES._named(Permission, using, GRANTS[group.name]))


def revoke(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    perms = Permission.objects.using(using).filter(
        content_type__app_label="crm", codename__endswith="_owner"
    )
    for group in Group.objects.using(using).filter(name__in=GRANTS):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_saved_view_permissions"),
        ("crm", "0010_owners"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
