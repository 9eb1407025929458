"""Notifications hears of an integration needing reconnection through syncengine's hook, and
names the remote system that refused the tokens."""

from __future__ import annotations

import pytest

from notifications.models import Notification
from syncengine import hooks
from syncengine.models import Integration
from syncengine.services.integrations import mark_needs_reconnect
from tests.factories import IntegrationFactory, UserFactory
from tests.support.roles import ROLES, grant_role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "kind, remote, other",
    [
        (Integration.Kind.SALESFORCE, "Salesforce", "Google"),
        (Integration.Kind.GOOGLE_CONTACTS, "Google Contacts", "Salesforce"),
    ],
)
def test_the_notice_names_the_remote_that_refused(
    django_capture_on_commit_callbacks, kind, remote, other
):
    integration = IntegrationFactory(name="Remote", kind=kind)
    admin = grant_role(UserFactory(is_staff=True), ROLES.ADMIN)

    with django_capture_on_commit_callbacks(execute=True):
        mark_needs_reconnect(integration=integration, reason="invalid_grant")

    notice = Notification.objects.get(user=admin, kind="integration_needs_reconnect")
    assert notice.title == "Remote needs to be reconnected"
    assert notice.body.startswith(f"{remote} refused the stored tokens (invalid_grant).")
    assert f"Connect {remote}" in notice.body and other not in notice.body
    assert notice.link == f"/admin/syncengine/integration/{integration.pk}/change/"


def test_nothing_is_sent_before_the_transaction_commits(django_capture_on_commit_callbacks):
    integration = IntegrationFactory(name="Org")
    grant_role(UserFactory(is_staff=True), ROLES.ADMIN)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        mark_needs_reconnect(integration=integration, reason="invalid_grant")

    assert len(callbacks) == 1 and not Notification.objects.exists()


def test_a_failing_listener_breaks_neither_the_engine_nor_the_others(
    django_capture_on_commit_callbacks,
):
    integration = IntegrationFactory(name="Org")
    admin = grant_role(UserFactory(is_staff=True), ROLES.ADMIN)
    heard = []

    def broken(event):
        raise RuntimeError("mail server down")

    hooks.on_integration_needs_reconnect(broken)
    hooks.on_integration_needs_reconnect(heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            mark_needs_reconnect(integration=integration, reason="invalid_grant")
    finally:
        hooks.unsubscribe(broken)
        hooks.unsubscribe(heard.append)

    integration.refresh_from_db()
    assert integration.status == Integration.Status.NEEDS_RECONNECT
    assert [e.integration.pk for e in heard] == [integration.pk]
    assert Notification.objects.filter(user=admin).count() == 1
