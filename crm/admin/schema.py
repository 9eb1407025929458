"""Staff screens of the CRM schema: object types, properties (options, sync settings), labels."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from crm import sources
from crm.admin.records import TYPE_PARAM
from crm.errors import CrmError
from crm.models import (
    AssociationDefinition,
    ObjectType,
    Property,
    PropertyOption,
    SyncPropertyConfig,
)
from crm.services import schema as schema_services
from crm.sync_properties import services as sync_services
from crm.usage import list_property_usages


@admin.register(ObjectType)
class ObjectTypeAdmin(admin.ModelAdmin):
    list_display = ["label_plural", "name", "is_custom", "primary_property", "records_link"]
    readonly_fields = ["is_custom", "created_at"]
    fields = [
        "name",
        "label_singular",
        "label_plural",
        "primary_property",
        "list_properties",
        "search_properties",
        "is_custom",
        "created_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    @admin.display(description="Records")
    def records_link(self, obj):
        url = f"{reverse('admin:crm_record_changelist')}?{TYPE_PARAM}={obj.name}"
        return format_html('<a href="{}">View {}</a>', url, obj.label_plural.lower())

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        created = schema_services.create_object_type(
            name=obj.name,
            label_singular=obj.label_singular,
            label_plural=obj.label_plural,
            actor=request.user,
            source=sources.USER,
        )
        obj.pk, obj.is_custom = created.pk, True

    def has_delete_permission(self, request, obj=None):
        return False


class PropertyOptionFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if self.instance.type in Property.OPTION_TYPES and not kept:
            raise ValidationError("A dropdown or checkbox property needs at least one option.")
        if kept and self.instance.type not in Property.OPTION_TYPES:
            raise ValidationError(
                f"A {self.instance.get_type_display()} property has no "
                "options; remove them or choose a dropdown type."
            )


class PropertyOptionInline(admin.TabularInline):
    model = PropertyOption
    formset = PropertyOptionFormSet
    fields = ["value", "label", "display_order", "hidden"]
    extra = 1


# The property form's fields, in the groups the admin shows them in.
GENERAL_FIELDS = [
    "object_type",
    "name",
    "label",
    "type",
    "group",
    "description",
    "display_order",
]
RULE_FIELDS = ["unique", "read_only", "sensitive"]
ACCESS_FIELDS = ["restricted", "restricted_users", "restricted_groups"]
SYNC_FIELDS = [
    "sync_source_object_type",
    "sync_source_property",
    "sync_definitions",
    "sync_criterion",
]
# The service names sync settings "sync.<name>"; the form's fields are "sync_<name>".
SYNC_ERROR_FIELDS = {
    "sync": "sync_source_property",
    "sync.source_object_type": "sync_source_object_type",
    "sync.source_property": "sync_source_property",
    "sync.association_labels": "sync_definitions",
    "sync.criterion": "sync_criterion",
}


class SourcePropertySelect(forms.Select):
    """Each source property names its object type, so the form's script can narrow the list."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-object-type"] = instance.object_type_id
        return option


class DefinitionCheckboxes(forms.CheckboxSelectMultiple):
    """Each association label names the two object types it links, for the form's script."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-types"] = (
                f"{instance.from_object_type_id} {instance.to_object_type_id}"
            )
        return option


class PropertyAdminForm(forms.ModelForm):
    """The property form, with the settings of a "property sync" property."""

    sync_source_object_type = forms.ModelChoiceField(
        queryset=ObjectType.objects.order_by("is_custom", "label_plural"),
        required=False,
        label="Source object type",
        help_text="Property sync only: the object type of the associated records to copy from.",
    )
    sync_source_property = forms.ModelChoiceField(
        queryset=Property.objects.select_related("object_type").order_by(
            "object_type__name", "label"
        ),
        required=False,
        widget=SourcePropertySelect,
        label="Source property",
        help_text="The property of the source object type whose value is copied.",
    )
    sync_definitions = forms.ModelMultipleChoiceField(
        queryset=AssociationDefinition.objects.select_related("from_object_type", "to_object_type"),
        required=False,
        widget=DefinitionCheckboxes,
        label="Association labels",
        help_text="Copy only through these associations (e.g. Primary). None ticked: all labels.",
    )
    sync_criterion = forms.ChoiceField(
        choices=SyncPropertyConfig.Criterion.choices,
        required=False,
        initial=SyncPropertyConfig.Criterion.FIRST_CREATED,
        label="When several records qualify",
        help_text="Copy from the first or last created associated record (within the labels).",
    )

    replace_removed_options_with = forms.CharField(
        max_length=200,
        required=False,
        label="Records holding a removed option move to",
        help_text="The value of a kept option. Removing an option that records hold is "
        "refused unless you say which option they move to (or keep it hidden instead).",
    )

    class Meta:
        model = Property
        fields = [*GENERAL_FIELDS, *RULE_FIELDS, *ACCESS_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sync_source_property"].label_from_instance = lambda p: (
            f"{p.object_type.label_plural}: {p.label} ({p.name})"
        )
        if self.instance.pk:
            # The script narrows the labels to those linking the source to this object type.
            self.fields["sync_source_object_type"].widget.attrs["data-target-type"] = (
                self.instance.object_type_id
            )
        config = self.sync_config
        if config is not None:
            self.initial.update(
                sync_source_object_type=config.source_object_type_id,
                sync_source_property=config.source_property_id,
                sync_definitions=[] if config.all_labels else list(config.definitions.all()),
                sync_criterion=config.criterion,
            )

    @property
    def sync_config(self) -> SyncPropertyConfig | None:
        if self.instance.pk and self.instance.is_sync:
            return SyncPropertyConfig.objects.filter(property=self.instance).first()
        return None

    def is_sync(self) -> bool:
        kind = self.instance.type if self.instance.pk else self.cleaned_data.get("type")
        return kind == Property.Type.PROPERTY_SYNC

    def sync_input(self) -> dict:
        definitions = list(self.cleaned_data.get("sync_definitions") or [])
        return {
            "source_object_type": self.cleaned_data.get("sync_source_object_type"),
            "source_property": self.cleaned_data.get("sync_source_property"),
            "definitions": definitions or None,
            "criterion": self.cleaned_data.get("sync_criterion")
            or SyncPropertyConfig.Criterion.FIRST_CREATED,
        }

    def sync_changed(self) -> bool:
        return any(name in self.changed_data for name in SYNC_FIELDS)

    def clean(self):
        cleaned = super().clean()
        if not self.is_sync():
            return cleaned
        # A copy has no access rules of its own (the form hides them): ignore what was sent.
        for name, empty in (
            ("restricted", False),
            ("restricted_users", []),
            ("restricted_groups", []),
        ):
            if name in cleaned:
                cleaned[name] = empty
        target = self.instance.object_type if self.instance.pk else cleaned.get("object_type")
        if target is None:
            return cleaned
        try:
            sync_services.check_sync_settings(
                target_object_type=target,
                prop=self.instance if self.instance.pk else None,
                **self.sync_input(),
            )
        except CrmError as exc:
            self.add_error(SYNC_ERROR_FIELDS.get(getattr(exc, "field", None)), exc.message)
        return cleaned


@admin.register(Property)
class PropertyAdmin(admin.ModelAdmin):
    form = PropertyAdminForm
    list_display = [
        "name",
        "label",
        "object_type",
        "type",
        "group",
        "unique",
        "sensitive",
        "restricted",
        "read_only",
    ]
    list_filter = ["object_type", "type", "sensitive", "restricted", "read_only"]
    list_select_related = ["object_type"]
    search_fields = ["name", "label"]
    inlines = [PropertyOptionInline]
    filter_horizontal = ["restricted_users", "restricted_groups"]
    actions = ["recompute_sync_properties"]
    fieldsets = [
        (None, {"fields": GENERAL_FIELDS}),
        ("Rules", {"fields": RULE_FIELDS, "classes": ["property-rules"]}),
        ("Restricted access", {"fields": ACCESS_FIELDS, "classes": ["property-access"]}),
    ]
    sync_fieldset = (
        "Property sync",
        {
            "fields": SYNC_FIELDS,
            "classes": ["property-sync"],
            "description": "For the Property sync type: a read-only copy of a property of an "
            "associated record, kept current by Concord.",
        },
    )

    class Media:
        # Shows the sections of the chosen type and narrows the sync choices to the source.
        js = ["crm/property_form.js"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(self.fieldsets)
        if obj is None:
            fieldsets.insert(1, self.sync_fieldset)
            return fieldsets
        if obj.is_sync:
            # A copy is read-only, never unique, and readable by whoever reads its source's
            # records: the rules and access sections do not apply.
            name, options = self.sync_fieldset
            fieldsets = [
                fieldsets[0],
                (name, {**options, "fields": [*SYNC_FIELDS, "backfill"]}),
                ("Rules", {"fields": ["sensitive"]}),
            ]
        if obj.has_options:
            fieldsets.append(("Removing options", {"fields": ["replace_removed_options_with"]}))
        fieldsets.append(("Used in", {"fields": ["used_in"]}))
        return fieldsets

    def get_inline_instances(self, request, obj=None):
        if obj is not None and not obj.has_options:
            return []  # options belong to dropdown and checkbox properties only
        return super().get_inline_instances(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # used_in gets the object only; whose saved views it may name depends on the user.
        obj._usage_viewer = request.user
        fields = ["object_type", "name", "type", "used_in"]
        if obj.is_sync:
            fields += ["read_only", "unique", "backfill"]
        return fields

    @admin.display(description="Used in")
    def used_in(self, obj):
        usages = list_property_usages(obj, viewer=getattr(obj, "_usage_viewer", None))
        if not usages:
            return "Not used by sync properties, field mappings or saved views."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}</li>",
                (
                    (format_html('<a href="{}">{}</a>', u.url, u.label) if u.url else u.label,)
                    for u in usages
                ),
            ),
        )

    @admin.display(description="Backfill")
    def backfill(self, obj):
        config = SyncPropertyConfig.objects.filter(property=obj).first()
        if config is None:
            return "—"
        percent = (
            100 * config.backfill_done // config.backfill_total if config.backfill_total else 100
        )
        text = (
            f"{config.get_backfill_status_display()}: {config.backfill_done:,} of "
            f"{config.backfill_total:,} records ({percent}%)"
        )
        if config.backfill_finished_at:
            text += f", finished {config.backfill_finished_at:%Y-%m-%d %H:%M:%S}"
        if config.backfill_error:
            text += f". Error: {config.backfill_error}"
        return text

    def save_model(self, request, obj, form, change):
        pass  # save_related does the work: a new property needs its options in the same call

    def save_related(self, request, form, formsets, change):
        prop = form.instance
        flags = {
            f: form.cleaned_data[f]
            for f in schema_services.EDITABLE_PROPERTY_FIELDS
            if f in form.cleaned_data and f != "label"
        }
        is_sync = form.is_sync()
        if is_sync:
            flags.update(read_only=True, unique=False)
        options_formset = next(f for f in formsets if f.model is PropertyOption)
        options = [
            {
                "value": f.cleaned_data["value"],
                "label": f.cleaned_data.get("label"),
                "hidden": f.cleaned_data.get("hidden", False),
            }
            for f in sorted(
                options_formset.forms, key=lambda f: f.cleaned_data.get("display_order") or 0
            )
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        replace_with = None
        target = form.cleaned_data.get("replace_removed_options_with")
        if change and prop.has_options and target:
            kept = {o["value"] for o in options}
            removed = prop.options.exclude(value__in=kept).values_list("value", flat=True)
            replace_with = dict.fromkeys(removed, target)  # every removed option moves there
        try:
            # A savepoint: a refusal undoes the service's work, and the admin's own bookkeeping
            # (history, messages) can still run in the request's transaction.
            with transaction.atomic():
                self._save_through_service(
                    request, form, prop, change, flags, options, replace_with, is_sync
                )
        except CrmError as exc:
            # Raised after the form was accepted (e.g. "cannot become unique"): nothing was
            # changed; say why and go back to the form.
            request._concord_refused = True
            messages.error(request, exc.message)
        else:
            form.save_m2m()  # restricted users and groups
        # The service saved the options (or nothing); the admin's change message reads these.
        options_formset.new_objects = options_formset.changed_objects = []
        options_formset.deleted_objects = []

    def _save_through_service(
        self, request, form, prop, change, flags, options, replace_with, is_sync
    ) -> None:
        """Create or change the property, its options and sync settings through the service."""
        if change:
            # The form has already copied the new values onto its instance; the service
            # compares them with what is stored (e.g. unique switched on checks duplicates).
            schema_services.update_property(
                prop=Property.objects.select_related("object_type").get(pk=prop.pk),
                changes={**flags, "label": prop.label},
                options=options if prop.has_options else None,
                replace_with=replace_with,
                sync=form.sync_input() if is_sync and form.sync_changed() else None,
                actor=request.user,
                source=sources.USER,
            )
        else:
            created = schema_services.create_property(
                object_type=prop.object_type,
                name=prop.name,
                label=prop.label,
                type=prop.type,
                options=options,
                sync=form.sync_input() if is_sync else None,
                actor=request.user,
                source=sources.USER,
                **flags,
            )
            prop.pk, prop._state.adding = created.pk, False

    def log_change(self, request, obj, message):
        if not getattr(request, "_concord_refused", False):
            super().log_change(request, obj, message)

    def log_addition(self, request, obj, message):
        if not getattr(request, "_concord_refused", False):
            super().log_addition(request, obj, message)

    def response_change(self, request, obj):
        if getattr(request, "_concord_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(request, "_concord_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def delete_view(self, request, object_id, extra_context=None):
        prop = self.get_object(request, object_id)
        usages = list_property_usages(prop, viewer=request.user) if prop is not None else []
        if usages:
            # Refuse before the confirmation page: deleting would break what reads it.
            messages.error(
                request,
                f"{prop} is used, so it cannot be deleted. Used in: "
                + "; ".join(u.label for u in usages),
            )
            return HttpResponseRedirect(reverse("admin:crm_property_change", args=[prop.pk]))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        schema_services.delete_property(prop=obj, actor=request.user, source=sources.USER)

    def delete_queryset(self, request, queryset):
        for prop in queryset.select_related("object_type"):
            try:
                with transaction.atomic():
                    schema_services.delete_property(
                        prop=prop, actor=request.user, source=sources.USER
                    )
            except CrmError as exc:
                messages.error(request, exc.message)

    @admin.action(description="Recompute selected sync properties on every record")
    def recompute_sync_properties(self, request, queryset):
        props = list(queryset.filter(type=Property.Type.PROPERTY_SYNC))
        for prop in props:
            sync_services.recompute_sync_property(
                prop=prop, actor=request.user, source=sources.USER
            )
        self.message_user(
            request,
            f"Recomputing {len(props)} sync properties; the property page shows the progress.",
        )


@admin.register(AssociationDefinition)
class AssociationDefinitionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "label", "from_limit", "to_limit"]
    list_filter = ["from_object_type", "to_object_type"]
    list_select_related = ["from_object_type", "to_object_type"]
