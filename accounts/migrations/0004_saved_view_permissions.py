"""Give the roles the permissions of crm's SavedView model (SPEC T-2).

The roles were made by 0001 from the models of that time; a new model's permissions reach the
roles only through a migration like this one. Super admins hold every permission of Concord;
the other roles need none of these: whoever may read records keeps views of their own (the
admin and the API scope each user to their own views by `crm.view_record`).
"""

from __future__ import annotations

import importlib

from django.db import migrations

ROLES = importlib.import_module("accounts.migrations.0001_roles")
NAMES = [f"crm.{verb}_savedview" for verb in ("add", "change", "delete", "view")]
GROUPS = [ROLES.SUPER_ADMIN]


def grant(apps, schema_editor) -> None:
    using = schema_editor.connection.alias
    ROLES._ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    chosen = ROLES._named(Permission, using, NAMES)
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.add(*chosen)


def revoke(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    perms = Permission.objects.using(using).filter(
        content_type__app_label="crm", codename__endswith="_savedview"
    )
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_preferences"),
        ("crm", "0009_savedview"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
