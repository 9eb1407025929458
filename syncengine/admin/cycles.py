"""Sync cycles with their stages (read-only: the engine writes them)."""

from __future__ import annotations

from django.contrib import admin

from syncengine.models import SyncCycle, SyncStage


class SyncStageInline(admin.TabularInline):
    model = SyncStage
    extra = 0
    can_delete = False
    fields = [
        "operation",
        "remote_object",
        "status",
        "started_at",
        "ended_at",
        "new",
        "updated",
        "deleted",
        "failed",
        "skipped",
        "api_calls",
    ]
    readonly_fields = fields
    ordering = ["pk"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyncCycle)
class SyncCycleAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "integration",
        "status",
        "trigger",
        "created_at",
        "started_at",
        "ended_at",
        "api_calls",
    ]
    list_filter = ["status", "integration"]
    list_select_related = ["integration"]
    readonly_fields = [
        "integration",
        "status",
        "trigger",
        "requested_by",
        "created_at",
        "started_at",
        "ended_at",
        "lease_until",
        "api_calls",
        "message",
    ]
    inlines = [SyncStageInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False
