"""Staff screen of associations: links made and removed through the services, within limits."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

from crm import sources
from crm.errors import CrmError
from crm.models import Association
from crm.paginators import EstimatedCountPaginator
from crm.services import associations as association_services


@admin.register(Association)
class AssociationAdmin(admin.ModelAdmin):
    list_display = ["from_record", "definition", "to_record", "created_at"]
    list_filter = ["definition"]
    list_select_related = [
        "definition__from_object_type",
        "definition__to_object_type",
        "from_record__object_type",
        "to_record__object_type",
    ]
    raw_id_fields = ["from_record", "to_record"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ["remove_selected"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # removal goes through the action, which tells integrations

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class AssociationForm(form):
            def clean(self):
                cleaned = super().clean()
                definition = cleaned.get("definition")
                source, target = cleaned.get("from_record"), cleaned.get("to_record")
                if definition and source and target:
                    try:
                        # Run the service in a savepoint that is always rolled back: it
                        # checks types and limits exactly as the real write will.
                        with transaction.atomic():
                            association_services.associate(
                                definition=definition,
                                from_record=source,
                                to_record=target,
                                actor=request.user,
                                source=sources.USER,
                            )
                            transaction.set_rollback(True)
                    except CrmError as exc:
                        raise ValidationError(exc.message) from None
                return cleaned

        return AssociationForm

    def save_model(self, request, obj, form, change):
        created = association_services.associate(
            definition=obj.definition,
            from_record=obj.from_record,
            to_record=obj.to_record,
            actor=request.user,
            source=sources.USER,
        )
        obj.pk, obj.created_at = created.pk, created.created_at

    @admin.action(description="Remove selected associations", permissions=["change"])
    def remove_selected(self, request, queryset):
        count = association_services.dissociate(
            associations=list(queryset.select_related("definition__from_object_type")),
            actor=request.user,
            source=sources.USER,
        )
        self.message_user(request, f"Removed {count} associations.")
