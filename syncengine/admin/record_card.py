"""The sync card on a record's admin page (a crm record panel, registered in apps.py)."""

from __future__ import annotations

from crm.record_panels import RecordPanel
from syncengine.record_sync import get_record_sync_card


def record_sync_panel(record, request) -> RecordPanel | None:
    """The record's links, errors, associations and sync timeline, as the user may see them."""
    if not request.user.has_perm("crm.view_record"):
        return None
    return RecordPanel(
        title="Sync",
        template="admin/syncengine/record_sync_card.html",
        context={"card": get_record_sync_card(record=record, user=request.user)},
    )
