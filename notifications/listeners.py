"""What notifications does when another app tells of an event (subscribed in apps.py)."""

from __future__ import annotations

from accounts.selectors import list_users_with_permission
from notifications.services import notify
from syncengine.hooks import IntegrationNeedsReconnect


def on_integration_needs_reconnect(event: IntegrationNeedsReconnect) -> None:
    """Tell the admins who can reconnect an integration that its remote refused the tokens."""
    integration, remote = event.integration, event.remote_name
    notify(
        users=list_users_with_permission("syncengine.add_integration"),  # they can reconnect
        kind="integration_needs_reconnect",
        title=f"{integration.name} needs to be reconnected",
        body=f"{remote} refused the stored tokens ({event.reason}). Sync is paused until an "
        f"admin connects it again (Integrations → Connect {remote}).",
        link=f"/admin/syncengine/integration/{integration.pk}/change/",
    )
