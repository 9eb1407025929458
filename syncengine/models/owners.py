"""Concord owners and their remote users (Salesforce's User behind OwnerId)."""

from __future__ import annotations

from django.db import models

from syncengine.models.integrations import Integration


class RemoteOwner(models.Model):
    """A Concord owner and the remote user they are in one integration (matched by email).

    One link per owner and one per remote user in each integration: an owner is one Salesforce
    user of an org, never two. `is_active` is the remote user's: only an active user can be
    given records there."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="remote_owners"
    )
    owner = models.ForeignKey("crm.Owner", on_delete=models.CASCADE, related_name="remote_users")
    remote_id = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    # The user's SystemModstamp as last read: the Users stage reads from the newest one on.
    remote_modstamp = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The engine's bookkeeping, shown through the owners it links; nobody edits it.
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "owner"], name="syncengine_remote_owner_unique_owner"
            ),
            models.UniqueConstraint(
                fields=["integration", "remote_id"], name="syncengine_remote_owner_unique_remote"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.remote_id} ({'active' if self.is_active else 'inactive'})"
