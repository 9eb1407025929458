"""Every API operation of the OpenAPI schema, for every role, against the table of who may call
it (DESIGN §10 "Permissions"; SPEC X-1, X-4).

The table must name exactly the schema's operations: a new endpoint fails here until its rule
is written down. A cell sends one request, inside a savepoint rolled back afterwards, so every
cell sees the same objects. Allowed means the permission check let the request through (any
answer but 401/403); refused means 401 when anonymous and 403 when signed in.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from django.db import transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from crm import sources
from crm.models import AssociationDefinition, AuditEvent, SavedView
from crm.services import associations as association_services
from crm.services import records as record_services
from crm.services.schema import create_property
from notifications.services import notify
from syncengine.models import SyncStage
from tests.factories import (
    OwnerFactory,
    SyncCycleFactory,
    SyncStageFactory,
    UserFactory,
)
from tests.support.clients import finish
from tests.support.permissions import guarded_objects
from tests.support.roles import ROLES, grant_role

ANONYMOUS, USER, STAFF, ADMIN, SUPER_ADMIN = "anonymous", "user", "staff", "admin", "super admin"
ALL_ROLES = [ANONYMOUS, USER, STAFF, ADMIN, SUPER_ADMIN]

EVERYONE = frozenset(ALL_ROLES)
USERS = frozenset({USER, ADMIN, SUPER_ADMIN})  # the User role and those above it
ADMINS = frozenset({ADMIN, SUPER_ADMIN})
SUPER_ADMINS = frozenset({SUPER_ADMIN})

# Who may call each operation. "staff" is a staff account given no role: it may call nothing
# but the token endpoint.
EXPECTED: dict[str, frozenset[str]] = {
    "POST /api/v1/auth/token/": EVERYONE,
    # CRM schema: signed-in users read it, admins change it; usage (integrations, admin URLs)
    # is for staff who may read properties.
    "GET /api/v1/object-types/": USERS,
    "POST /api/v1/object-types/": ADMINS,
    "GET /api/v1/object-types/{name}/": USERS,
    "GET /api/v1/object-types/{object_type}/properties/": USERS,
    "POST /api/v1/object-types/{object_type}/properties/": ADMINS,
    "GET /api/v1/object-types/{object_type}/properties/{property_name}/": USERS,
    "PUT /api/v1/object-types/{object_type}/properties/{property_name}/": ADMINS,
    "PATCH /api/v1/object-types/{object_type}/properties/{property_name}/": ADMINS,
    "DELETE /api/v1/object-types/{object_type}/properties/{property_name}/": ADMINS,
    "GET /api/v1/object-types/{object_type}/properties/{property_name}/usage/": ADMINS,
    # Records and associations: every role from User up.
    "GET /api/v1/objects/{object_type}/records/": USERS,
    "POST /api/v1/objects/{object_type}/records/": USERS,
    "GET /api/v1/objects/{object_type}/records/{id}/": USERS,
    "PATCH /api/v1/objects/{object_type}/records/{id}/": USERS,
    "DELETE /api/v1/objects/{object_type}/records/{id}/": USERS,
    "POST /api/v1/objects/{object_type}/records/{id}/restore/": USERS,
    "POST /api/v1/objects/{object_type}/records/batch/": USERS,
    "POST /api/v1/objects/{object_type}/records/merge/": USERS,
    # A record's sync card: as reading the record (its sync errors only to who may read them).
    "GET /api/v1/objects/{object_type}/records/{id}/sync/": USERS,
    "GET /api/v1/association-definitions/": USERS,
    "GET /api/v1/association-definitions/{id}/": USERS,
    "GET /api/v1/associations/": USERS,
    "POST /api/v1/associations/": USERS,
    "GET /api/v1/associations/{id}/": USERS,
    "DELETE /api/v1/associations/{id}/": USERS,
    "GET /api/v1/audit-events/": ADMINS,
    "GET /api/v1/audit-events/{id}/": ADMINS,
    # Sync engine: admins.
    "GET /api/v1/integrations/": ADMINS,
    "GET /api/v1/integrations/{id}/": ADMINS,
    "PATCH /api/v1/integrations/{id}/": ADMINS,
    "GET /api/v1/integrations/{id}/api-usage/": ADMINS,
    "PATCH /api/v1/integrations/{id}/api-usage/": ADMINS,
    "GET /api/v1/integrations/{id}/google-sync-options/": ADMINS,
    "PATCH /api/v1/integrations/{id}/google-sync-options/": ADMINS,
    "GET /api/v1/integrations/{id}/health/": ADMINS,
    "GET /api/v1/integrations/{id}/held-deletes/": ADMINS,
    "POST /api/v1/integrations/{id}/held-deletes/confirm/": ADMINS,
    "POST /api/v1/integrations/{id}/held-deletes/discard/": ADMINS,
    "GET /api/v1/integrations/{id}/mass-delete-thresholds/": ADMINS,
    "PATCH /api/v1/integrations/{id}/mass-delete-thresholds/": ADMINS,
    "GET /api/v1/integrations/{id}/mappings/": ADMINS,
    "POST /api/v1/integrations/{id}/mappings/": ADMINS,
    "PATCH /api/v1/integrations/{id}/mappings/": ADMINS,
    "POST /api/v1/integrations/{id}/sync/": ADMINS,
    "GET /api/v1/sync-stages/": ADMINS,
    "GET /api/v1/sync-stages/{id}/": ADMINS,
    "GET /api/v1/sync-stages/export/": ADMINS,
    "GET /api/v1/sync-errors/": ADMINS,
    "GET /api/v1/sync-errors/{id}/": ADMINS,
    "GET /api/v1/sync-errors/export/": ADMINS,
    "POST /api/v1/sync-errors/resync/": ADMINS,
    # Backups, restores and the authenticator restores ask for: super admins.
    "GET /api/v1/backups/": SUPER_ADMINS,
    "POST /api/v1/backups/": SUPER_ADMINS,
    "GET /api/v1/backups/{id}/": SUPER_ADMINS,
    "GET /api/v1/backups/{id}/download/": SUPER_ADMINS,
    "GET /api/v1/backup-schedule/": SUPER_ADMINS,
    "PUT /api/v1/backup-schedule/": SUPER_ADMINS,
    "GET /api/v1/restores/": SUPER_ADMINS,
    "POST /api/v1/restores/": SUPER_ADMINS,
    "GET /api/v1/restores/{id}/": SUPER_ADMINS,
    "POST /api/v1/restores/{id}/confirm/": SUPER_ADMINS,
    "POST /api/v1/restores/{id}/rollback/": SUPER_ADMINS,
    "GET /api/v1/imports/": SUPER_ADMINS,
    "GET /api/v1/auth/totp/": SUPER_ADMINS,
    "POST /api/v1/auth/totp/": SUPER_ADMINS,
    # One's own notifications and their settings: every role from User up.
    "GET /api/v1/notifications/": USERS,
    "GET /api/v1/notifications/{id}/": USERS,
    "POST /api/v1/notifications/{id}/read/": USERS,
    "POST /api/v1/notifications/mark-read/": USERS,
    "GET /api/v1/notification-settings/": USERS,
    "PUT /api/v1/notification-settings/": USERS,
    "PATCH /api/v1/notification-settings/": USERS,
    # Owners: users read them (names of record owners, "My records"), admins manage them.
    "GET /api/v1/owners/": USERS,
    "POST /api/v1/owners/": ADMINS,
    "GET /api/v1/owners/{id}/": USERS,
    "PATCH /api/v1/owners/{id}/": ADMINS,
    # One's own saved views of records: every role from User up.
    "GET /api/v1/views/": USERS,
    "POST /api/v1/views/": USERS,
    "GET /api/v1/views/{id}/": USERS,
    "PATCH /api/v1/views/{id}/": USERS,
    "DELETE /api/v1/views/{id}/": USERS,
}

METHODS = ("get", "post", "put", "patch", "delete")


@cache
def schema_operations() -> tuple[str, ...]:
    """ "METHOD /path" of every operation the OpenAPI schema (as /api/schema/ serves it) has."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return tuple(
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS
    )


def test_the_table_names_exactly_the_schema_operations():
    operations = schema_operations()

    assert len(operations) == len(set(operations))
    assert sorted(set(operations) - set(EXPECTED)) == [], "operations without a rule"
    assert sorted(set(EXPECTED) - set(operations)) == [], "rules of operations that are gone"


@pytest.fixture
def role_users(db):
    """One user per signed-in role; super admins by group, not by the superuser flag."""
    return {
        USER: grant_role(UserFactory(), ROLES.USER),
        STAFF: UserFactory(is_staff=True),
        ADMIN: grant_role(UserFactory(is_staff=True), ROLES.ADMIN),
        SUPER_ADMIN: grant_role(UserFactory(is_staff=True), ROLES.SUPER_ADMIN),
    }


@pytest.fixture
def world(role_users, contacts, companies):
    """A real object behind every path parameter of the schema."""
    create_property(object_type=contacts, name="tier", label="Tier", source=sources.API)
    ada, archived = (
        record_services.create_record(
            object_type=contacts, properties={"email": email}, source=sources.API
        )
        for email in ("ada@example.com", "gone@example.com")
    )
    record_services.archive_records(
        object_type=contacts, record_ids=[archived.pk], source=sources.API
    )
    acme = record_services.create_record(
        object_type=companies, properties={"name": "Acme"}, source=sources.API
    )
    definition = AssociationDefinition.objects.filter(
        from_object_type=contacts, to_object_type=companies
    ).first()
    association = association_services.associate(
        definition=definition, from_record=ada, to_record=acme, source=sources.API
    )
    guarded = guarded_objects(contacts, ada, restore_properties=["tier"])
    integration = guarded.integration
    cycle = SyncCycleFactory(integration=integration)
    stage = SyncStageFactory(
        cycle=cycle,
        integration=integration,
        object_type=contacts,
        operation=SyncStage.Operation.choices[0][0],
        started_at=timezone.now(),
    )
    notifications = {
        n.user_id: n.pk
        for n in notify(users=list(role_users.values()), kind="backup_ready", title="Ready")
    }
    saved_views = {
        user.pk: SavedView.objects.create(owner=user, object_type=contacts, name="Mine").pk
        for user in role_users.values()
    }
    return {
        "association-definitions": definition.pk,
        "associations": association.pk,
        "audit-events": AuditEvent.objects.order_by("pk").first().pk,
        "backups": guarded.backup.pk,
        "integrations": integration.pk,
        "objects": ada.pk,
        "owners": OwnerFactory().pk,
        "restore": archived.pk,
        "restores": guarded.restore.pk,
        "sync-errors": guarded.error.pk,
        "sync-stages": stage.pk,
        "notifications": notifications,
        "views": saved_views,
    }


def url_of(operation: str, world: dict, user) -> str:
    """The operation's path with its parameters filled from the world, for this user."""
    path = operation.split(" ", 1)[1]
    collection = path.split("/")[3]
    key = "restore" if path.endswith("/restore/") else collection
    value = world.get(key)
    if isinstance(value, dict):  # one per user: each sees only their own
        value = value[user.pk] if user is not None else min(value.values())
    path = path.replace("{object_type}", "contacts").replace("{name}", "contacts")
    path = path.replace("{property_name}", "tier")
    path = path.replace("{id}", str(value))
    assert not re.search(r"{\w+}", path), path
    return path


def call(operation: str, world: dict, user) -> int:
    """One request, its writes rolled back; the answer's status code."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    method = operation.split(" ", 1)[0].lower()
    url = url_of(operation, world, user)
    savepoint = transaction.savepoint()
    try:
        if method in ("get", "delete"):
            response = getattr(client, method)(url)
        else:
            response = getattr(client, method)(url, {}, format="json")
        finish(response)
    finally:
        transaction.savepoint_rollback(savepoint)
    return response.status_code


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_operation_answers_each_role_as_the_table_says(role, role_users, world):
    user = role_users.get(role)
    refused_status = 401 if role == ANONYMOUS else 403
    wrong = {}
    for operation in schema_operations():
        status = call(operation, world, user)
        allowed = role in EXPECTED[operation]
        if allowed and status in (401, 403):
            wrong[operation] = f"refused ({status}), should be allowed"
        elif not allowed and status != refused_status:
            wrong[operation] = f"answered {status}, should be refused with {refused_status}"

    assert wrong == {}
