"""Notifications in the admin: each user sees only their own notifications and settings."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from accounts.permissions import has_permissions
from notifications.models import IntegrationNotificationSetting, Notification, NotificationSetting
from notifications.services import get_or_create_setting, mark_read, update_setting


def _own(request, obj, perm: str) -> bool:
    """Staff holding the permission, for their own row (or the list of them)."""
    user = request.user
    mine = obj is None or obj.user_id == user.pk
    return user.is_staff and mine and has_permissions(request, [perm])


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

    @admin.action(description="Mark selected notifications read", permissions=["change"])
    def mark_selected_read(self, request, queryset):
        count = mark_read(user=request.user, notification_ids=queryset.values_list("pk", flat=True))
        messages.success(request, f"{count} notification(s) marked read.")

    # The model permissions, and only for one's own rows.
    def has_module_permission(self, request):
        return has_permissions(request, ["notifications.view_notification"])

    def has_view_permission(self, request, obj=None):
        return _own(request, obj, "notifications.view_notification")

    def has_change_permission(self, request, obj=None):
        # Marking read is the only change; every field is read-only.
        return _own(request, obj, "notifications.change_notification")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Opening a notification reads it.
        mark_read(user=request.user, notification_ids=[int(object_id)])
        return super().change_view(request, object_id, form_url, extra_context)


class NotificationSettingForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=[])

    class Meta:
        model = NotificationSetting
        fields = [
            "sync_errors_enabled",
            "sync_errors_frequency",
            "backup_ready_enabled",
            "restore_done_enabled",
            "time_zone",
            "daily_hour",
            "weekly_day",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in sorted(zoneinfo.available_timezones())]


class IntegrationSettingInline(admin.TabularInline):
    model = IntegrationNotificationSetting
    extra = 0
    verbose_name = "integration with its own choice"
    verbose_name_plural = "Sync-error emails per integration (instead of the choice for all)"

    # The rows belong to the user's own settings, which the parent admin already guards.
    def has_view_permission(self, request, obj=None):
        return has_permissions(request, ["notifications.change_notificationsetting"])

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


@admin.register(NotificationSetting)
class NotificationSettingAdmin(admin.ModelAdmin):
    """One page: the signed-in user's own settings (the list jumps straight to it)."""

    form = NotificationSettingForm
    inlines = [IntegrationSettingInline]
    fieldsets = [
        (
            "Sync error emails",
            {"fields": ["sync_errors_enabled", "sync_errors_frequency"]},
        ),
        ("In-app notices", {"fields": ["backup_ready_enabled", "restore_done_enabled"]}),
        (
            "When",
            {
                "fields": ["time_zone", "daily_hour", "weekly_day"],
                "description": "Daily digests go out at the hour, weekly ones on the day, in "
                "your time zone.",
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user=request.user)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # before creating a setting for someone who may not see it
        setting = get_or_create_setting(user=request.user)
        url = reverse("admin:notifications_notificationsetting_change", args=[setting.pk])
        return HttpResponseRedirect(url)

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        update_setting(user=request.user, changes=changes)

    def has_module_permission(self, request):
        return has_permissions(request, ["notifications.view_notificationsetting"])

    def has_view_permission(self, request, obj=None):
        return _own(request, obj, "notifications.view_notificationsetting")

    def has_change_permission(self, request, obj=None):
        return _own(request, obj, "notifications.change_notificationsetting")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
