"""Staff screens of the CRM: schema, records per object type, associations, recycle bin, audit."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from crm import selectors, sources
from crm.errors import CrmError
from crm.forms import RecordForm
from crm.models import (
    ArchivedRecord,
    Association,
    AssociationDefinition,
    AuditEvent,
    ObjectType,
    Property,
    PropertyOption,
    Record,
    SyncPropertyConfig,
)
from crm.paginators import EstimatedCountPaginator
from crm.schema import Schema, load_schema
from crm.services import associations as association_services
from crm.services import records as record_services
from crm.services import schema as schema_services
from crm.sync_properties import services as sync_services
from crm.usage import list_property_usages

TYPE_PARAM = "type"


# --- schema -----------------------------------------------------------------------------------


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
        label="Source property",
        help_text="The property of the source object type whose value is copied.",
    )
    sync_definitions = forms.ModelMultipleChoiceField(
        queryset=AssociationDefinition.objects.select_related("from_object_type", "to_object_type"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
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

    class Meta:
        model = Property
        fields = [
            "object_type",
            "name",
            "label",
            "type",
            "group",
            "description",
            "display_order",
            "unique",
            "read_only",
            "sensitive",
            "restricted",
            "restricted_users",
            "restricted_groups",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sync_source_property"].label_from_instance = lambda p: (
            f"{p.object_type.label_plural}: {p.label} ({p.name})"
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
        (
            None,
            {
                "fields": [
                    "object_type",
                    "name",
                    "label",
                    "type",
                    "group",
                    "description",
                    "display_order",
                ]
            },
        ),
        ("Rules", {"fields": ["unique", "read_only", "sensitive"]}),
        ("Restricted access", {"fields": ["restricted", "restricted_users", "restricted_groups"]}),
    ]
    sync_fieldset = (
        "Property sync",
        {
            "fields": SYNC_FIELDS,
            "description": "For the Property sync type: a read-only copy of a property of an "
            "associated record, kept current by Concord.",
        },
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(self.fieldsets)
        if obj is None:
            fieldsets.insert(1, self.sync_fieldset)
            return fieldsets
        if obj.is_sync:
            name, options = self.sync_fieldset
            fieldsets.insert(1, (name, {**options, "fields": [*SYNC_FIELDS, "backfill"]}))
        fieldsets.append(("Used in", {"fields": ["used_in"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = ["object_type", "name", "type", "used_in"]
        if obj.is_sync:
            fields += ["read_only", "unique", "backfill"]
        return fields

    @admin.display(description="Used in")
    def used_in(self, obj):
        usages = list_property_usages(obj)
        if not usages:
            return "Not used by sync properties, field mappings or saved filters."
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
        try:
            if change:
                schema_services.update_property(
                    prop=prop,
                    changes={**flags, "label": prop.label},
                    options=options if prop.has_options else None,
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
        except CrmError as exc:
            # Raised after the form was accepted (e.g. "cannot become unique"): undo the
            # whole change form and say why.
            transaction.set_rollback(True)
            messages.error(request, exc.message)
            return
        form.save_m2m()  # restricted users and groups
        # The service saved the options; the admin's change message reads these.
        options_formset.new_objects = options_formset.changed_objects = []
        options_formset.deleted_objects = []

    def delete_view(self, request, object_id, extra_context=None):
        prop = self.get_object(request, object_id)
        usages = list_property_usages(prop) if prop is not None else []
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


# --- records ----------------------------------------------------------------------------------


class ObjectTypeFilter(admin.SimpleListFilter):
    title = "object type"
    parameter_name = TYPE_PARAM

    def lookups(self, request, model_admin):
        return [(ot.name, ot.label_plural) for ot in selectors.list_object_types()]

    def queryset(self, request, queryset):
        return queryset  # the admin's get_queryset already narrows to the chosen type

    def choices(self, changelist):
        # No "All" choice: a record list is always of one object type.
        yield from list(super().choices(changelist))[1:]


def _enumeration_filter(prop: Property) -> type[admin.SimpleListFilter]:
    options = [(o.value, o.label) for o in prop.options.all()]

    class PropertyValueFilter(admin.SimpleListFilter):
        title = prop.label.lower()
        parameter_name = f"p_{prop.name}"

        def lookups(self, request, model_admin):
            return options

        def queryset(self, request, queryset):
            if self.value():
                return queryset.filter(**{f"properties__{prop.name}": self.value()})
            return queryset

    return PropertyValueFilter


class AssociationInline(admin.TabularInline):
    """What a record is linked to; links are made in Associations, within their limits."""

    model = Association
    fk_name = "from_record"
    fields = ["definition", "to_record_link", "created_at"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "associated records"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "definition__from_object_type",
                "definition__to_object_type",
                "to_record__object_type",
            )
        )

    @admin.display(description="record")
    def to_record_link(self, obj):
        url = reverse("admin:crm_record_change", args=[obj.to_record_id])
        return format_html('<a href="{}">{}</a>', url, obj.to_record)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _SchemaAwareAdmin(admin.ModelAdmin):
    """Shared by the record list and the recycle bin: the object type comes from ?type=."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 100

    def object_type_for(self, request, obj=None) -> ObjectType | None:
        if obj is not None:
            return obj.object_type
        cache = request.__dict__.setdefault("_concord_object_type", {})
        name = request.GET.get(TYPE_PARAM) or request.POST.get(TYPE_PARAM)
        if name not in cache:
            cache[name] = ObjectType.objects.filter(name=name).first() if name else None
        return cache[name]

    def schema_for(self, request, object_type: ObjectType) -> Schema:
        cache = request.__dict__.setdefault("_concord_schema", {})
        if object_type.pk not in cache:
            cache[object_type.pk] = load_schema(object_type)
        return cache[object_type.pk]

    def changelist_view(self, request, extra_context=None):
        if self.object_type_for(request) is None:
            first = selectors.list_object_types().first()
            url = reverse(f"admin:crm_{self.model._meta.model_name}_changelist")
            return HttpResponseRedirect(f"{url}?{TYPE_PARAM}={first.name}")
        return super().changelist_view(request, extra_context)

    def property_columns(self, request) -> list:
        object_type = self.object_type_for(request)
        schema = self.schema_for(request, object_type)
        names = [n for n in (object_type.list_properties or []) if n in schema.properties]
        columns = []
        for name in names:
            prop = schema.properties[name]
            visible = schema.can_view(request.user, name)
            columns.append(_column(name, prop.label, visible))
        return columns


def _column(name: str, label: str, visible: bool):
    def column(record):
        if not visible:
            return "•••"
        value = record.properties.get(name)
        if isinstance(value, list):
            return ", ".join(value)
        return "" if value is None else value

    column.short_description = label
    column.__name__ = f"property_{name}"
    return column


@admin.register(Record)
class RecordAdmin(_SchemaAwareAdmin):
    form = RecordForm
    search_fields = ["pk"]  # shows the box; get_search_results does the matching
    search_help_text = "An email address (exact), a name (starts with) or a record id."
    inlines = [AssociationInline]
    readonly_fields = ["id", "created_at", "updated_at", "last_changes"]
    actions = ["move_to_recycle_bin"]

    def get_queryset(self, request):
        queryset = Record.objects.filter(archived_at__isnull=True).select_related("object_type")
        object_type = self.object_type_for(request)
        if object_type is not None and request.resolver_match.url_name.endswith("changelist"):
            queryset = queryset.filter(object_type=object_type)
        return queryset.order_by("-pk")

    def get_list_display(self, request):
        return ["__str__", *self.property_columns(request), "updated_at"]

    def get_list_filter(self, request):
        object_type = self.object_type_for(request)
        schema = self.schema_for(request, object_type)
        enum_filters = [
            _enumeration_filter(schema.properties[name])
            for name in (object_type.list_properties or [])
            if name in schema.properties
            and schema.properties[name].type == Property.Type.ENUMERATION
            and schema.can_view(request.user, name)
        ]
        return [ObjectTypeFilter, *enum_filters, "created_at"]

    def get_search_results(self, request, queryset, search_term):
        object_type = self.object_type_for(request)
        return selectors.search_records(queryset, object_type=object_type, term=search_term), False

    def get_form(self, request, obj=None, change=False, **kwargs):
        object_type = self.object_type_for(request, obj)
        if object_type is None:
            object_type = selectors.list_object_types().get(name="contacts")
        return RecordForm.for_schema(self.schema_for(request, object_type), request.user)

    def get_fieldsets(self, request, obj=None):
        form = self.get_form(request, obj)
        schema = form.schema
        groups: dict[str, list[str]] = {}
        for name, prop in schema.properties.items():
            if name in form.base_fields:
                groups.setdefault(prop.group, []).append(name)
        fieldsets = [
            (group.replace("information", " information").strip().capitalize(), {"fields": names})
            for group, names in groups.items()
        ]
        if obj is not None:
            fieldsets.append(("Record", {"fields": self.readonly_fields, "classes": ["collapse"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj else []

    @admin.display(description="last change of each property")
    def last_changes(self, obj):
        rows = sorted(
            obj.property_changes.items(), key=lambda kv: kv[1].get("at", ""), reverse=True
        )
        if not rows:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} by {}",
            ((name, meta.get("at", "")[:19], meta.get("source")) for name, meta in rows[:20]),
        )

    def save_model(self, request, obj, form, change):
        values = form.property_values()
        if change:
            record_services.update_record(
                record=obj, properties=values, actor=request.user, source=sources.USER
            )
        else:
            created = record_services.create_record(
                object_type=form.schema.object_type,
                properties=values,
                actor=request.user,
                source=sources.USER,
            )
            # The admin goes on with `obj` (messages, redirect): make it the saved record.
            obj.__dict__.update(created.__dict__)
            obj.object_type = created.object_type

    def has_delete_permission(self, request, obj=None):
        return False  # records go to the recycle bin (an action), never straight away

    @admin.action(description="Move selected records to the recycle bin", permissions=["change"])
    def move_to_recycle_bin(self, request, queryset):
        object_type = self.object_type_for(request)
        ids = list(queryset.values_list("pk", flat=True))
        count = record_services.archive_records(
            object_type=object_type, record_ids=ids, actor=request.user, source=sources.USER
        )
        self.message_user(
            request,
            f"Moved {count} records to the recycle bin; they can be "
            f"restored for {settings.CONCORD_RECYCLE_BIN_DAYS} days.",
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is None and self.object_type_for(request) is None:
            return HttpResponseRedirect(f"{request.path}?{TYPE_PARAM}=contacts")
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(ArchivedRecord)
class RecycleBinAdmin(_SchemaAwareAdmin):
    actions = ["restore_selected"]
    list_filter = [ObjectTypeFilter]

    def get_queryset(self, request):
        queryset = ArchivedRecord.objects.filter(archived_at__isnull=False)
        object_type = self.object_type_for(request)
        if object_type is not None:
            queryset = queryset.filter(object_type=object_type)
        return queryset.select_related("object_type").order_by("-archived_at", "-pk")

    def get_list_display(self, request):
        return ["__str__", *self.property_columns(request), "archived_at", "restorable_until"]

    @admin.display(description="restorable until")
    def restorable_until(self, obj):
        return obj.archived_at + dt.timedelta(days=settings.CONCORD_RECYCLE_BIN_DAYS)

    @admin.action(description="Restore selected records", permissions=["change"])
    def restore_selected(self, request, queryset):
        object_type = self.object_type_for(request)
        ids = list(queryset.values_list("pk", flat=True))
        try:
            count = record_services.restore_records(
                object_type=object_type, record_ids=ids, actor=request.user, source=sources.USER
            )
        except CrmError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"Restored {count} records.")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


# --- associations and audit ---------------------------------------------------------------------


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
