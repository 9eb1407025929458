"""In-app notifications in the admin: each user sees only their own, and marks them read."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from notifications.models import Notification
from notifications.services import mark_read


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", "Unread"), ("yes", "Read")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(read_at__isnull=self.value() == "no")
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "created_at", "open_link", "is_read"]
    list_filter = [ReadFilter, "kind"]
    actions = ["mark_selected_read"]
    readonly_fields = ["title", "kind", "body", "open_link", "created_at", "read_at"]
    fields = readonly_fields

    def get_queryset(self, request):
        # Everyone, super admins included, sees only their own notifications.
        return super().get_queryset(request).filter(user=request.user)

    @admin.display(description="link")
    def open_link(self, obj):
        return format_html('<a href="{}">Open</a>', obj.link) if obj.link else "—"

    @admin.display(boolean=True, description="read")
    def is_read(self, obj):
        return obj.read_at is not None

    @admin.action(description="Mark selected notifications read")
    def mark_selected_read(self, request, queryset):
        count = mark_read(user=request.user, notification_ids=queryset.values_list("pk", flat=True))
        messages.success(request, f"{count} notification(s) marked read.")

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return (
            request.user.is_active
            and request.user.is_staff
            and (obj is None or obj.user_id == request.user.pk)
        )

    def has_change_permission(self, request, obj=None):
        # Needed for the changelist's actions; every field is read-only.
        return self.has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Opening a notification reads it.
        mark_read(user=request.user, notification_ids=[int(object_id)])
        return super().change_view(request, object_id, form_url, extra_context)
