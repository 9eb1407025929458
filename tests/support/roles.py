"""The role groups in tests: the migration creates them; transactional tests flush them."""

from __future__ import annotations

import importlib

from django.apps import apps as django_apps
from django.db import connection

ROLES = importlib.import_module("accounts.migrations.0001_roles")


def ensure_roles() -> None:
    """Re-create the role groups if a transactional test flushed them."""
    from django.contrib.auth.models import Group

    names = [ROLES.SUPER_ADMIN, ROLES.ADMIN, ROLES.USER]
    if Group.objects.filter(name__in=names).count() != len(names):
        ROLES.create_roles(django_apps, connection.schema_editor())


def grant_role(user, name: str):
    """Put the user in a role's group ("Super admin", "Admin" or "User"); returns the user
    re-read, so no permission cache is stale."""
    from django.contrib.auth.models import Group

    ensure_roles()
    user.groups.add(Group.objects.get(name=name))
    return type(user).objects.get(pk=user.pk)
