"""Owners: the people records are assigned to, with how many records each owns."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from crm import selectors, sources
from crm.models import Owner
from crm.services import owners as owner_services


class OwnerForm(forms.ModelForm):
    class Meta:
        model = Owner
        fields = ["name", "email", "is_active", "user"]

    def clean_email(self):
        # Normalised before the model's uniqueness check, so "Ada@X" and "ada@x" collide.
        return owner_services.normalise_email(self.cleaned_data.get("email", ""))


@admin.register(Owner)
class OwnerAdmin(admin.ModelAdmin):
    form = OwnerForm
    list_filter = ["is_active"]
    list_select_related = ["user"]
    search_fields = ["name", "email"]
    search_help_text = "A name or an email (part of it)."
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["deactivate_selected"]

    def has_delete_permission(self, request, obj=None):
        return False  # records keep their owner's id: owners are deactivated, never deleted

    def get_list_display(self, request):
        return ["name", "email", "is_active", "user", _records_owned(request), "updated_at"]

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # Counted for the page's owners in one query (the records column), not one per row.
        ids = [owner.pk for owner in changelist.result_list]
        request._concord_owned = selectors.count_owned_records(ids, request.user)
        return changelist

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        if change:
            owner_services.update_owner(
                owner=obj, changes=data, actor=request.user, source=sources.USER
            )
        else:
            created = owner_services.create_owner(
                **form.cleaned_data, actor=request.user, source=sources.USER
            )
            obj.pk = created.pk

    @admin.action(description="Deactivate selected owners", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        owners = list(queryset.filter(is_active=True))
        for owner in owners:
            owner_services.deactivate_owner(owner=owner, actor=request.user, source=sources.USER)
        self.message_user(
            request, f"Deactivated {len(owners)} owners; their records keep them as owner."
        )


def _records_owned(request):
    """The "records owned" column: active records of every object type, counted per page."""

    def records_owned(owner):
        return getattr(request, "_concord_owned", {}).get(owner.pk, 0)

    records_owned.short_description = "records owned"
    return records_owned
