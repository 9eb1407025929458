"""Who holds a permission, and the notices that go to the role able to act on them."""

from __future__ import annotations

from django.contrib.auth.models import Permission

from accounts.selectors import list_users_with_permission
from notifications.models import Notification
from syncengine.services.integrations import mark_needs_reconnect
from tests.factories import IntegrationFactory, UserFactory
from tests.support.roles import ROLES, grant_role


def test_holders_are_direct_by_role_or_superusers_and_active(db):
    direct = UserFactory()
    direct.user_permissions.add(Permission.objects.get(codename="start_sync"))
    by_role = grant_role(UserFactory(), ROLES.ADMIN)
    superuser = UserFactory(is_superuser=True)
    grant_role(UserFactory(), ROLES.USER)  # the User role cannot start syncs
    grant_role(UserFactory(is_active=False), ROLES.ADMIN)  # inactive
    UserFactory(is_staff=True)

    holders = list(list_users_with_permission("syncengine.start_sync"))

    assert holders == [direct, by_role, superuser]


def test_admins_hear_an_integration_needs_reconnecting(db, django_capture_on_commit_callbacks):
    integration = IntegrationFactory(name="Org", instance_url="https://x.example.com")
    admin = grant_role(UserFactory(is_staff=True), ROLES.ADMIN)
    grant_role(UserFactory(), ROLES.USER)
    UserFactory(is_staff=True)

    with django_capture_on_commit_callbacks(execute=True):
        mark_needs_reconnect(integration=integration, reason="invalid_grant")

    assert list(Notification.objects.values_list("user_id", flat=True)) == [admin.pk]
