"""Object mappings with their field and reference mappings; field mapping edits go through the
mapping service, which checks and audits them."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from syncengine.models import FieldMapping, ObjectMapping, ReferenceMapping
from syncengine.services import mappings as mapping_services


class FieldMappingForm(forms.ModelForm):
    class Meta:
        model = FieldMapping
        fields = ["property", "remote_field", "rule", "value_map"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.has_changed():
            try:
                mapping_services.check_editable(self.instance)
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from exc
        om = self.instance.object_mapping if self.instance.object_mapping_id else None
        om = om or getattr(self, "parent_object", None)
        if om and cleaned.get("property") and cleaned.get("remote_field"):
            try:
                mapping_services.check_field_mapping(
                    object_mapping=om,
                    prop=cleaned["property"],
                    remote_field=cleaned["remote_field"],
                )
            except ValidationError as exc:
                raise forms.ValidationError(exc.message_dict) from exc
        return cleaned


class FieldMappingFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk and mapping_services.is_locked(form.instance):
                raise forms.ValidationError(
                    f"{form.instance} is one of Google Contacts' default mappings, which cannot "
                    "be removed."
                )


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    form = FieldMappingForm
    formset = FieldMappingFormSet
    extra = 0
    fields = ["property", "remote_field", "rule", "value_map", "is_default"]
    readonly_fields = ["is_default"]
    raw_id_fields = ["property"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.parent_object = obj
        return formset


class ReferenceMappingInline(admin.TabularInline):
    model = ReferenceMapping
    fk_name = "object_mapping"
    extra = 0
    fields = ["remote_field", "definition", "target", "rule"]


DELETE_RULES = ("pull_delete_rule", "push_delete_rule")


class ObjectMappingForm(forms.ModelForm):
    """The object mapping with its delete rules; deleting remotely needs the checkbox."""

    confirm_deletes = forms.BooleanField(
        required=False,
        label="Confirm deletes in the remote",
        help_text="Required to turn on “Delete the remote record”: records archived in Concord "
        "are then deleted in the remote system too.",
    )

    class Meta:
        model = ObjectMapping
        fields = [
            "integration",
            "object_type",
            "remote_object",
            "direction",
            "enabled",
            "sync_order",
            "pull_delete_rule",
            "push_delete_rule",
            "reread_own_writes",
            "pull_cursor",
        ]

    def clean(self):
        cleaned = super().clean()
        was = self.initial.get("push_delete_rule", ObjectMapping.PushDeleteRule.IGNORE)
        if (
            cleaned.get("push_delete_rule") == ObjectMapping.PushDeleteRule.DELETE
            and was != ObjectMapping.PushDeleteRule.DELETE
            and not cleaned.get("confirm_deletes")
        ):
            self.add_error(
                "confirm_deletes",
                "Tick this box to confirm that records archived in Concord are deleted in the "
                "remote system.",
            )
        return cleaned


@admin.register(ObjectMapping)
class ObjectMappingAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "integration",
        "direction",
        "enabled",
        "sync_order",
        "pull_delete_rule",
        "push_delete_rule",
        "watermark",
    ]
    list_filter = ["integration", "enabled"]
    list_select_related = ["integration", "object_type"]
    readonly_fields = ["watermark", "delete_watermark", "own_writes", "schema_checked_at"]
    form = ObjectMappingForm
    inlines = [FieldMappingInline, ReferenceMappingInline]

    def save_model(self, request, obj, form, change) -> None:
        """The mapping service saves and audits the object mapping; its delete rules go
        through the delete rule service, which asks for the confirmation."""
        wanted = {name: form.cleaned_data.get(name) for name in DELETE_RULES}
        if change:
            for name in DELETE_RULES:
                setattr(obj, name, form.initial.get(name, getattr(obj, name)))
        changed = [f for f in form.changed_data if f not in (*DELETE_RULES, "confirm_deletes")]
        if changed or not change:
            mapping_services.save_object_mapping(
                object_mapping=obj, changed_fields=changed, actor=request.user
            )
        mapping_services.set_delete_rules(
            object_mapping=obj,
            confirm_deletes=bool(form.cleaned_data.get("confirm_deletes")),
            actor=request.user,
            **wanted,
        )

    def save_formset(self, request, form, formset, change) -> None:
        """Field and reference mappings are written by the mapping service, which checks and
        audits them."""
        if formset.model is FieldMapping:
            save_field_mappings(formset=formset, object_mapping=form.instance, actor=request.user)
        elif formset.model is ReferenceMapping:
            save_reference_mappings(formset=formset, actor=request.user)
        else:
            super().save_formset(request, form, formset, change)


def save_field_mappings(*, formset, object_mapping: ObjectMapping, actor) -> None:
    """Delete, change and add the inline's field mappings through the mapping service.

    Sets what formset.save() would (new, changed and deleted objects) for the admin's history.
    """
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    deleted = set(formset.deleted_forms)
    for form in formset.deleted_forms:
        if form.instance.pk:
            formset.deleted_objects.append(form.instance)
            mapping_services.delete_field_mapping(field_mapping=form.instance, actor=actor)
    for form in formset.forms:
        if form in deleted or not form.has_changed():
            continue
        existing = form.instance if form.instance.pk else None
        data = form.cleaned_data
        saved = mapping_services.save_field_mapping(
            object_mapping=object_mapping,
            prop=data["property"],
            remote_field=data["remote_field"],
            rule=data["rule"],
            value_map=data.get("value_map"),
            field_mapping=existing,
            actor=actor,
        )
        if existing is None:
            formset.new_objects.append(saved)
        else:
            formset.changed_objects.append((saved, form.changed_data))


def save_reference_mappings(*, formset, actor) -> None:
    """Delete, change and add the inline's reference mappings through the mapping service."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    deleted = set(formset.deleted_forms)
    for form in formset.deleted_forms:
        if form.instance.pk:
            formset.deleted_objects.append(form.instance)
            mapping_services.delete_reference_mapping(reference_mapping=form.instance, actor=actor)
    for form in formset.forms:
        if form in deleted or not form.has_changed():
            continue
        created = form.instance.pk is None
        saved = mapping_services.save_reference_mapping(
            reference_mapping=form.save(commit=False),
            changed_fields=form.changed_data,
            actor=actor,
        )
        if created:
            formset.new_objects.append(saved)
        else:
            formset.changed_objects.append((saved, form.changed_data))
