"""What notifications does when another app tells of an event (subscribed in apps.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail

from accounts.selectors import list_users_with_permission
from notifications.services import notify, record_health_visit
from syncengine.hooks import IntegrationNeedsReconnect, MassDeleteHeld, SyncHealthViewed


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


def on_mass_delete_held(event: MassDeleteHeld) -> None:
    """Tell the admins who may confirm held deletes, in the app and by email."""
    integration, om = event.integration, event.object_mapping
    mapping = f"{om.object_type.name} ↔ {om.remote_object}"
    if event.direction == "pull":
        what = f"{event.remote_name} deleted {event.count} {om.remote_object} records"
        effect = "archive their Concord records"
    else:
        what = f"Concord archived {event.count} records of {om.object_type.name}"
        effect = f"delete them in {event.remote_name}"
    title = f"Mass delete held: {event.count} {event.direction} deletes of {integration.name}"
    body = (
        f"{what} in one sync cycle (mapping {mapping}, direction {event.direction}), more than "
        f"the mapping allows without confirmation. Nothing was deleted: confirm to {effect}, "
        "or discard to keep the records (Sync health → Mass delete held)."
    )
    link = f"/admin/syncengine/integration/{integration.pk}/health/"
    admins = list(list_users_with_permission("syncengine.change_integration"))  # may confirm
    notify(users=admins, kind="mass_delete_held", title=title, body=body, link=link)
    sender = settings.DEFAULT_FROM_EMAIL
    send_mass_mail(
        [(title, f"{body}\n\n{link}", sender, [u.email]) for u in admins if u.email],
        fail_silently=False,
    )


def on_sync_health_viewed(event: SyncHealthViewed) -> None:
    """The user has seen the integration's errors: they stop counting as new in the bell."""
    record_health_visit(user=event.user, integration=event.integration, at=event.at)
