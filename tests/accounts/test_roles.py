"""The role groups the migration creates (SPEC X-1): what each may do, and that it reverses."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.support.roles import ROLES

PROJECT_APPS = ["crm", "syncengine", "backups", "notifications"]
# Given by accounts 0005: users read owners (a record's owner by name, "My records").
USER_LATER_PERMISSIONS = {"crm.view_owner"}


def perms_of(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_the_super_admin_role_holds_every_permission_of_concord(db):
    every = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.filter(
            content_type__app_label__in=PROJECT_APPS
        ).values_list("content_type__app_label", "codename")
    }

    held = perms_of(ROLES.SUPER_ADMIN)

    assert every <= held  # a new model's permissions need a migration giving them to the role
    assert {"auth.change_user", "backups.run_restore", "syncengine.start_sync"} <= held


def test_admins_run_the_crm_and_the_sync_engine_but_not_backups_or_users(db):
    held = perms_of(ROLES.ADMIN)

    assert {
        "crm.add_objecttype",
        "crm.change_property",
        "crm.view_auditevent",
        "crm.change_owner",
        "syncengine.change_integration",
        "syncengine.change_fieldmapping",
        "syncengine.start_sync",
        "syncengine.view_syncerror",
        "notifications.view_notification",
        "django_celery_beat.change_periodictask",
    } <= held
    assert not {p for p in held if p.startswith(("backups.", "auth.", "authtoken."))}
    assert "crm.view_sensitive_values" not in held
    assert "django_celery_beat.delete_periodictask" not in held


def test_users_work_with_records_and_read_the_schema(db):
    held = perms_of(ROLES.USER)

    assert held == set(ROLES.USER_PERMISSIONS) | USER_LATER_PERMISSIONS
    assert {"crm.add_record", "crm.view_property"} <= held
    assert not {p for p in held if p.startswith(("syncengine.", "backups."))}
    assert "crm.add_property" not in held and "crm.view_auditevent" not in held


@pytest.mark.django_db(transaction=True)
def test_the_roles_migration_reverses_and_reapplies():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("accounts")
    try:
        executor.migrate([("accounts", None)])
        assert not Group.objects.filter(name__in=[ROLES.ADMIN, ROLES.USER]).exists()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    assert perms_of(ROLES.USER) == set(ROLES.USER_PERMISSIONS) | USER_LATER_PERMISSIONS
