"""Concord's admin site: the stock admin plus a "Records" section listing every object type."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.urls import reverse


class ConcordAdminSite(admin.AdminSite):
    site_header = "Concord"
    site_title = "Concord admin"
    index_title = "CRM data platform"
    # The stock index with the sync-health panel (SPEC T-3) above the apps.
    index_template = "admin/notifications/index.html"

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        if app_label is None and request.user.has_perm("crm.view_record"):
            app_list.insert(0, self._records_section())
        return app_list

    def _records_section(self) -> dict:
        from crm.models import ObjectType

        url = reverse("admin:crm_record_changelist")
        models = [
            {
                "name": ot.label_plural,
                "object_name": ot.name,
                "perms": {"view": True},
                "admin_url": f"{url}?type={ot.name}",
                "add_url": f"{reverse('admin:crm_record_add')}?type={ot.name}",
                "view_only": False,
            }
            for ot in ObjectType.objects.order_by("is_custom", "pk")
        ]
        return {
            "name": "Records",
            "app_label": "records",
            "app_url": url,
            "has_module_perms": True,
            "models": models,
        }


class ReadOnlyInAdmin:
    """No add, change or delete from the admin (a ModelAdmin or an inline): these rows are
    written by the services alone. Put it before the admin class in the bases."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ConcordAdminConfig(AdminConfig):
    default_site = "config.admin.ConcordAdminSite"
