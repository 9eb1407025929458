"""The "Assign owner…" page of the record list: pick an owner (or none) for the selected records."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from crm import selectors, sources
from crm.models import Property, Record
from crm.owners import OWNER_PROPERTY
from crm.services.property_values import set_property_values

# The page lists the records it will change; past this many it says how many more.
SHOWN_RECORDS = 20


class AssignOwnerForm(forms.Form):
    owner = forms.TypedChoiceField(label="New owner", coerce=int, empty_value=None, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        active = [(o.pk, str(o)) for o in selectors.list_owners(active=True)]
        self.fields["owner"].choices = [("", "— No owner (clear) —"), *active]


def assign_owner(model_admin, request, queryset) -> TemplateResponse | None:
    """Show the owner picker for the selected records, or reassign them when it is submitted."""
    object_type = model_admin.object_type_for(request)
    schema = model_admin.schema_for(request, object_type)
    prop = schema.properties.get(OWNER_PROPERTY)
    if prop is None or prop.type != Property.Type.OWNER:
        model_admin.message_user(
            request, f"{object_type.label_plural} have no owner property.", messages.ERROR
        )
        return None
    if not schema.can_edit(request.user, OWNER_PROPERTY):
        model_admin.message_user(
            request, "You do not have permission to edit the owner.", messages.ERROR
        )
        return None
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    form = AssignOwnerForm(request.POST if request.POST.get("post") else None)
    if form.is_bound and form.is_valid():
        owner_id = form.cleaned_data["owner"]
        result = set_property_values(
            object_type=object_type,
            name=OWNER_PROPERTY,
            values=dict.fromkeys(ids, owner_id),
            actor=request.user,
            source=sources.USER,
        )
        _report(model_admin, request, result, owner_id)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Assign an owner to {len(ids)} {object_type.label_plural.lower()}",
        "opts": Record._meta,
        "object_type": object_type,
        "form": form,
        "ids": ids,
        "shown": list(queryset.order_by("pk")[:SHOWN_RECORDS]),
        "more": max(0, len(ids) - SHOWN_RECORDS),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/crm/record/assign_owner.html", context)


def _report(model_admin, request, result, owner_id: int | None) -> None:
    updated = result.count("updated")
    unchanged = result.count("unchanged")
    failed = [item for item in result.items if item.errors]
    whom = "no owner" if owner_id is None else selectors.list_owners().get(pk=owner_id)
    model_admin.message_user(
        request, f"Assigned {whom} to {updated} records ({unchanged} had it already)."
    )
    if failed:
        first = next(iter(failed[0].errors.values()))[0]
        model_admin.message_user(
            request, f"{len(failed)} records were not changed: {first}", messages.ERROR
        )
