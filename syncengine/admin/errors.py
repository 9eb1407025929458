"""Sync errors (read-only: staff resolve them from the integration's health page)."""

from __future__ import annotations

from django.contrib import admin

from syncengine.admin.paging import KeysetPagedAdmin
from syncengine.models import SyncError


@admin.register(SyncError)
class SyncErrorAdmin(KeysetPagedAdmin, admin.ModelAdmin):
    list_display = [
        "category",
        "code",
        "short_message",
        "record",
        "remote_object",
        "remote_id",
        "remote_field",
        "occurrences",
        "last_seen_at",
        "status",
    ]
    list_filter = ["status", "category", "direction", "integration"]
    list_select_related = ["record__object_type", "integration"]
    raw_id_fields = ["record"]
    search_fields = ["code", "message", "remote_id"]
    readonly_fields = [
        "integration",
        "category",
        "code",
        "message",
        "direction",
        "object_type",
        "record",
        "remote_object",
        "remote_id",
        "remote_field",
        "property_name",
        "details",
        "first_seen_at",
        "last_seen_at",
        "occurrences",
        "status",
        "resolved_at",
        "resync_requested_at",
    ]
    exclude = ["affected_records"]
    show_full_result_count = False

    # Errors change only through the error service, which keeps the health cards' counts;
    # staff resolve them by fixing the record and resyncing from the health page.
    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Message")
    def short_message(self, obj: SyncError) -> str:
        return obj.message[:120]

    def has_add_permission(self, request) -> bool:
        return False
