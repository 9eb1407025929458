"""The one token store serves Google as it serves Salesforce: it refreshes through the
connector's OAuth client and saves the new access token encrypted; disconnecting revokes."""

from __future__ import annotations

import pytest

from syncengine import crypto
from syncengine.connectors.base import AuthError
from syncengine.services.integrations import (
    IntegrationTokens,
    disconnect_integration,
)

pytestmark = pytest.mark.django_db


def test_the_token_store_refreshes_a_google_access_token(integration):
    tokens = IntegrationTokens(integration)
    before = tokens.access_token()

    fresh = tokens.refresh()

    assert fresh and fresh != before
    integration.refresh_from_db()
    assert crypto.decrypt(integration.access_token_encrypted) == fresh
    assert tokens.access_token() == fresh


def test_a_revoked_google_refresh_token_needs_reconnection(integration):
    refresh = crypto.decrypt(integration.refresh_token_encrypted)
    assert disconnect_integration(integration=integration) is True
    integration.refresh_token_encrypted = crypto.encrypt(refresh)  # as if still stored

    with pytest.raises(AuthError):
        IntegrationTokens(integration).refresh()

    integration.refresh_from_db()
    assert integration.status == "needs_reconnect"
