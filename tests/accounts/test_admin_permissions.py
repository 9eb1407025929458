"""Every custom admin view (get_urls) and the admin pages with their own permission rules, for
staff without permissions, admins and super admins, against a table of who may open them.

The table must name exactly the admin's custom URLs: a new custom view fails here until its rule
is written down. Each request's writes are rolled back, so every cell sees the same objects.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import reverse

from crm import sources
from crm.services import records as record_services
from tests.factories import UserFactory
from tests.support.clients import finish
from tests.support.permissions import guarded_objects
from tests.support.roles import ROLES, grant_role

STAFF, ADMIN, SUPER_ADMIN = "staff", "admin", "super admin"
ADMINS = frozenset({ADMIN, SUPER_ADMIN})
SUPER_ADMINS = frozenset({SUPER_ADMIN})

# (URL name, method) → who may. Staff without permissions may open none of them.
CUSTOM: dict[tuple[str, str], frozenset[str]] = {
    ("syncengine_integration_connect", "get"): ADMINS,
    ("syncengine_integration_connect", "post"): ADMINS,
    ("syncengine_integration_connect_google", "get"): ADMINS,
    ("syncengine_integration_google_sync", "get"): ADMINS,
    ("syncengine_integration_google_sync", "post"): ADMINS,
    ("syncengine_integration_oauth_callback", "get"): ADMINS,
    ("syncengine_integration_health", "get"): ADMINS,
    ("syncengine_integration_health", "post"): ADMINS,  # resync
    ("syncengine_integration_health_export", "get"): ADMINS,
    ("syncengine_integration_health_affected", "get"): ADMINS,
    ("syncengine_integration_held_deletes", "get"): ADMINS,  # the confirmation step
    ("syncengine_integration_held_deletes", "post"): ADMINS,  # confirm or discard
    ("syncengine_syncstage_export", "get"): ADMINS,
    ("backups_backup_create", "post"): SUPER_ADMINS,
    ("backups_backup_schedule", "get"): SUPER_ADMINS,
    ("backups_backup_schedule", "post"): SUPER_ADMINS,
    ("backups_backup_download", "get"): SUPER_ADMINS,
    ("backups_restore_new", "get"): SUPER_ADMINS,
    ("backups_restore_two_factor", "get"): SUPER_ADMINS,
    ("backups_restore_plan", "get"): SUPER_ADMINS,
    ("backups_restore_confirm", "get"): SUPER_ADMINS,
    ("backups_restore_confirm", "post"): SUPER_ADMINS,
    ("backups_restore_rollback", "post"): SUPER_ADMINS,
    ("auth_user_password_change", "get"): SUPER_ADMINS,
    ("crm_record_save_view", "post"): ADMINS,  # who may list records may save views of them
}

# Stock admin pages whose permissions the apps decide themselves (dashboards, own rows only).
PAGES: dict[tuple[str, str], frozenset[str]] = {
    ("syncengine_syncstage_changelist", "get"): ADMINS,  # the sync status dashboard
    ("syncengine_integration_changelist", "get"): ADMINS,
    ("syncengine_integration_change", "get"): ADMINS,
    ("syncengine_objectmapping_changelist", "get"): ADMINS,
    ("notifications_notification_changelist", "get"): ADMINS,
    ("notifications_notificationsetting_changelist", "get"): ADMINS,
    ("backups_backup_changelist", "get"): SUPER_ADMINS,
    ("backups_restore_changelist", "get"): SUPER_ADMINS,
    ("otp_totp_totpdevice_changelist", "get"): SUPER_ADMINS,
    ("crm_auditevent_changelist", "get"): ADMINS,
    ("crm_savedview_changelist", "get"): ADMINS,  # one's own views
}

STANDARD = ("changelist", "add", "history", "delete", "change")


def custom_admin_urls() -> dict[str, str]:
    """{name: pattern} of every URL a ModelAdmin adds beyond the stock five."""
    found = {}
    for model, model_admin in admin.site._registry.items():
        stock = {f"{model._meta.app_label}_{model._meta.model_name}_{s}" for s in STANDARD}
        for pattern in model_admin.get_urls():
            if pattern.name and pattern.name not in stock:
                found[pattern.name] = str(pattern.pattern)
    return found


def test_the_table_names_exactly_the_custom_admin_urls():
    names = {name for name, _ in CUSTOM}

    assert sorted(set(custom_admin_urls()) - names) == [], "custom admin URLs without a rule"
    assert sorted(names - set(custom_admin_urls())) == [], "rules of URLs that are gone"


@pytest.fixture
def staff_users(db):
    return {
        STAFF: UserFactory(is_staff=True),
        ADMIN: grant_role(UserFactory(is_staff=True), ROLES.ADMIN),
        SUPER_ADMIN: grant_role(UserFactory(is_staff=True), ROLES.SUPER_ADMIN),
    }


@pytest.fixture
def objects(staff_users, contacts):
    """A real object behind every URL parameter."""
    ada = record_services.create_record(
        object_type=contacts, properties={"email": "ada@example.com"}, source=sources.API
    )
    guarded = guarded_objects(contacts, ada, restore_properties=["email"])
    return {
        "integration": guarded.integration.pk,
        "error": guarded.error.pk,
        "backup": guarded.backup.pk,
        "restore": guarded.restore.pk,
        "user": staff_users[STAFF].pk,
        "mapping": guarded.mapping.pk,
    }


def url_of(name: str, objects: dict) -> str:
    pattern = custom_admin_urls().get(name, "")
    kwargs = {}
    if "<int:integration_id>" in pattern:
        kwargs["integration_id"] = objects["integration"]
    if "<int:error_id>" in pattern:
        kwargs["error_id"] = objects["error"]
    if "<int:mapping_id>" in pattern:
        kwargs.update(mapping_id=objects["mapping"], direction="pull", decision="confirm")
    if "<id>" in pattern:
        kwargs["id"] = objects["user"]
    if "<int:pk>" in pattern:
        kwargs["pk"] = objects[name.split("_")[1] if name.startswith("backups") else "integration"]
    if name == "syncengine_integration_change":
        return reverse(f"admin:{name}", args=[objects["integration"]])
    return reverse(f"admin:{name}", kwargs=kwargs)


@pytest.mark.parametrize("role", [STAFF, ADMIN, SUPER_ADMIN])
def test_every_admin_view_answers_each_role_as_the_table_says(role, staff_users, objects):
    client = Client()
    client.force_login(staff_users[role])
    login = reverse("admin:login")
    wrong = {}
    for (name, method), allowed_roles in {**CUSTOM, **PAGES}.items():
        savepoint = transaction.savepoint()
        try:
            response = getattr(client, method)(url_of(name, objects))
            finish(response)
        finally:
            transaction.savepoint_rollback(savepoint)
        refused = response.status_code == 403
        if response.status_code == 302 and response.url.startswith(login):
            wrong[(name, method)] = "sent to the login page"
        elif refused and role in allowed_roles:
            wrong[(name, method)] = "refused (403), should be allowed"
        elif not refused and role not in allowed_roles:
            wrong[(name, method)] = f"answered {response.status_code}, should be refused (403)"

    assert wrong == {}
