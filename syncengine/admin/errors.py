"""Sync errors (read-only: staff resolve them from the integration's health page)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from config.times import full_time, short_time
from syncengine.admin.paging import KeysetPagedAdmin
from syncengine.health.rows import blocks_others, error_link
from syncengine.health.texts import details_text, record_name
from syncengine.models import SyncError
from syncengine.remote_links import remote_record_url


def _when(value) -> str:
    """A time on one line, short, with the full date on hover."""
    if value is None:
        return "—"
    return format_html(
        '<span style="white-space:nowrap" title="{}">{}</span>', full_time(value), short_time(value)
    )


@admin.register(SyncError)
class SyncErrorAdmin(KeysetPagedAdmin, admin.ModelAdmin):
    # The sentence a person reads leads; the code is last, for those who search by it.
    list_display = [
        "short_message",
        "category",
        "record_named",
        "remote_record",
        "remote_field",
        "occurrences",
        "last_seen",
        "status",
        "code",
    ]
    list_filter = ["status", "category", "direction", "integration"]
    list_select_related = ["record__object_type", "integration"]
    raw_id_fields = ["record"]
    search_fields = ["code", "message", "remote_id"]
    readonly_fields = [
        "integration",
        "category",
        "message",
        "on_health_page",
        "code",
        "direction",
        "object_type",
        "record",
        "remote_object",
        "remote_id",
        "remote_record",
        "remote_field",
        "property_name",
        "details_in_words",
        "first_seen",
        "last_seen",
        "occurrences",
        "status",
        "resolved_at",
        "resync_requested_at",
    ]
    exclude = ["affected_records", "details", "first_seen_at", "last_seen_at"]
    show_full_result_count = False

    # Errors change only through the error service, which keeps the health cards' counts;
    # staff resolve them by fixing the record and resyncing from the health page.
    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Message")
    def short_message(self, obj: SyncError) -> str:
        return obj.message[:120]

    @admin.display(description="Record", ordering="record")
    def record_named(self, obj: SyncError) -> str:
        name = record_name(obj.record)
        if name and blocks_others(obj):
            return f"{name} (blocks other records)"
        return name or "—"

    @admin.display(description="Remote record")
    def remote_record(self, obj: SyncError) -> str:
        url = remote_record_url(
            integration=obj.integration, remote_object=obj.remote_object, remote_id=obj.remote_id
        )
        if not url:
            return obj.remote_object or "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{} {}</a>',
            url,
            obj.remote_object,
            obj.remote_id,
        )

    @admin.display(description="Details")
    def details_in_words(self, obj: SyncError) -> str:
        return details_text(obj.details, code=obj.code) or "—"

    @admin.display(description="On the health page")
    def on_health_page(self, obj: SyncError) -> str:
        return format_html(
            '<a href="{}">This error with its cause and records</a>', error_link(obj)
        )

    @admin.display(description="First seen", ordering="first_seen_at")
    def first_seen(self, obj: SyncError) -> str:
        return _when(obj.first_seen_at)

    @admin.display(description="Last seen", ordering="last_seen_at")
    def last_seen(self, obj: SyncError) -> str:
        return _when(obj.last_seen_at)
