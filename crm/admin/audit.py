"""Staff screen of the audit log: who changed what, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from crm.models import AuditEvent
from crm.paginators import EstimatedCountPaginator


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "source", "verb", "object_type", "target_link", "summary"]
    list_filter = ["verb", "object_type", ("at", admin.DateFieldListFilter)]
    list_select_related = ["actor", "object_type"]
    search_fields = ["=target_id", "=source", "target_repr"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    date_hierarchy = None

    @admin.display(description="target")
    def target_link(self, obj):
        if (
            obj.target_id
            and obj.object_type_id
            and obj.verb in ("create", "update", "archive", "restore", "associate", "dissociate")
        ):
            url = reverse("admin:crm_record_change", args=[obj.target_id])
            return format_html('<a href="{}">{}</a>', url, obj.target_repr or obj.target_id)
        return obj.target_repr or obj.target_id or ""

    @admin.display(description="detail")
    def summary(self, obj):
        changes = obj.detail.get("changes")
        if changes:
            return "; ".join(f"{k}: {v[0]!r} → {v[1]!r}" for k, v in list(changes.items())[:5])
        return ", ".join(f"{k}={v}" for k, v in obj.detail.items())[:200]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
