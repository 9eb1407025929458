"""Staff's saved views of records: each user renames and deletes their own (SPEC T-2).

Views are made on the record list ("Save view"); this list is where they are tidied. A
superuser also sees others' views: a saved view keeps the properties it filters on from being
deleted ("Used in"), so someone must be able to remove it.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from crm.errors import SavedViewError
from crm.models import SavedView
from crm.services import saved_views as saved_view_services


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "object_type", "owner", "open_link", "created_at"]
    list_filter = ["object_type"]
    list_select_related = ["object_type", "owner"]
    fields = ["name", "object_type", "owner", "query", "open_link", "created_at"]
    readonly_fields = ["object_type", "owner", "query", "open_link", "created_at"]
    search_fields = ["name"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(owner=request.user)

    # A view is personal: anyone who may list records may keep views of their own.
    def has_module_permission(self, request):
        return request.user.has_perm("crm.view_record")

    def has_view_permission(self, request, obj=None):
        return self._may_touch(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_touch(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_touch(request, obj)

    def has_add_permission(self, request):
        return False  # made on the record list, from a filter ("Save view")

    def _may_touch(self, request, obj) -> bool:
        if not request.user.has_perm("crm.view_record"):
            return False
        return obj is None or request.user.is_superuser or obj.owner_id == request.user.pk

    @admin.display(description="Open")
    def open_link(self, obj):
        url = reverse("admin:crm_record_changelist")
        query = f"&{obj.query}" if obj.query else ""
        return format_html(
            '<a href="{}?type={}{}&view={}">Open the list</a>',
            url,
            obj.object_type.name,
            query,
            obj.pk,
        )

    def save_model(self, request, obj, form, change):
        try:
            saved_view_services.rename_saved_view(
                view=SavedView.objects.get(pk=obj.pk), name=obj.name, actor=request.user
            )
        except SavedViewError as exc:
            request._concord_refused = True
            messages.error(request, exc.message)

    def log_change(self, request, obj, message):
        if not getattr(request, "_concord_refused", False):
            super().log_change(request, obj, message)

    def delete_model(self, request, obj):
        saved_view_services.delete_saved_view(view=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for view in queryset:
            saved_view_services.delete_saved_view(view=view, actor=request.user)
