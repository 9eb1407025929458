"""Staff screens of records: one list per object type, typed forms, the recycle bin."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from config.admin import ReadOnlyInAdmin
from crm import selectors, sources
from crm.admin.assign_owner import assign_owner as assign_owner_page
from crm.admin.merge import merge_selected as merge_page
from crm.errors import CrmError, SavedViewError
from crm.forms import RecordForm
from crm.models import (
    ArchivedRecord,
    Association,
    ObjectType,
    Property,
    Record,
    SavedView,
)
from crm.owners import (
    ME,
    NONE,
    OWNER_PARAM,
    OWNER_PROPERTY,
    InvalidOwnerFilter,
    can_filter_by_owner,
    narrow_by_owner,
    owner_names,
    show_owner,
)
from crm.paginators import EstimatedCountPaginator
from crm.record_filters import RecordListFilter, list_record_filters
from crm.record_panels import list_record_panels
from crm.schema import Schema, load_schema, option_labels
from crm.services import records as record_services
from crm.services import saved_views as saved_view_services
from crm.view_queries import PROPERTY_PREFIX, filter_part, is_filterable

TYPE_PARAM = "type"  # the object type of a record list: ?type=contacts
VIEW_PARAM = "view"  # the saved view a record list shows: ?view=3


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
    # Labels shown, values matched; a sync property copying a dropdown offers its source's.
    options = list(option_labels(prop).items())

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


def _owner_filter(prop: Property) -> type[admin.SimpleListFilter]:
    """ "My records", "No owner" and each owner: the filter of crm.owners, as in saved views."""

    class OwnerFilter(admin.SimpleListFilter):
        title = prop.label.lower()
        parameter_name = OWNER_PARAM

        def lookups(self, request, model_admin):
            chosen = self.value()
            owners = [
                (str(owner.pk), str(owner))
                for owner in selectors.list_owners()
                if owner.is_active or str(owner.pk) == chosen
            ]
            return [(ME, "My records"), (NONE, "No owner"), *owners]

        def queryset(self, request, queryset):
            if not self.value():
                return queryset
            try:
                return narrow_by_owner(queryset, self.value(), request.user)
            except InvalidOwnerFilter:
                # The admin's way with a bad filter value: "?e=1", the whole list, a message.
                raise IncorrectLookupParameters(f"Bad owner filter {self.value()!r}") from None

    return OwnerFilter


def _registered_filter(record_filter: RecordListFilter) -> type[admin.SimpleListFilter]:
    """A filter another app offers (e.g. ?sync_error=12), shown only while it is applied."""

    class RegisteredFilter(admin.SimpleListFilter):
        title = record_filter.title
        parameter_name = record_filter.parameter

        def lookups(self, request, model_admin):
            value = self.value()
            description = record_filter.describe(value) if value else None
            return [(value, description.label if description else f"unknown ({value})")]

        def queryset(self, request, queryset):
            if self.value():
                return record_filter.narrow(queryset, self.value())
            return queryset

    return RegisteredFilter


class RecordChangeList(ChangeList):
    """The record list: its object type is where it is, not a filter to clear."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        object_type = self.model_admin.object_type_for(request)
        filters = [k for k in self.get_filters_params() if k != TYPE_PARAM]
        self.has_active_filters = bool(filters)
        # "Clear all filters" stays on this object type's list (not the first type's).
        self.clear_all_filters_qs = self.get_query_string(
            new_params={TYPE_PARAM: object_type.name}, remove=self.get_filters_params()
        )
        return queryset


class AssociationInline(ReadOnlyInAdmin, admin.TabularInline):
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
            if prop.type == Property.Type.OWNER:
                columns.append(_owner_column(request, name, prop.label, visible))
            else:
                columns.append(_column(name, prop.label, visible, option_labels(prop)))
        return columns


def _owner_column(request, name: str, label: str, visible: bool):
    """An owner column: owners' names, read once per request (not once per row)."""
    cache = request.__dict__.setdefault("_concord_owner_names", {})

    def column(record):
        if not visible:
            return "•••"
        if "names" not in cache:
            cache["names"] = owner_names()
        return show_owner(record.properties.get(name), cache["names"])

    column.short_description = label
    column.__name__ = f"property_{name}"
    return column


def _column(name: str, label: str, visible: bool, labels: dict[str, str] | None = None):
    """A property column; `labels` turns option values into option labels."""
    labels = labels or {}

    def column(record):
        if not visible:
            return "•••"
        value = record.properties.get(name)
        if isinstance(value, list):
            return ", ".join(labels.get(item, item) for item in value)
        if value is None:
            return ""
        return labels.get(value, value) if isinstance(value, str) else value

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
    actions = ["move_to_recycle_bin", "merge_selected", "assign_owner"]

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
        # The list's dropdown columns, and any other dropdown a saved view filters on.
        names = list(object_type.list_properties or [])
        names += [
            key.removeprefix(PROPERTY_PREFIX)
            for key in request.GET
            if key.startswith(PROPERTY_PREFIX) and key.removeprefix(PROPERTY_PREFIX) not in names
        ]
        enum_filters = [
            _enumeration_filter(schema.properties[name])
            for name in names
            if name in schema.properties
            and is_filterable(schema.properties[name])
            and schema.can_view(request.user, name)
        ]
        owner_filters = (
            [_owner_filter(schema.properties[OWNER_PROPERTY])]
            if can_filter_by_owner(schema, request.user)
            else []
        )
        registered = [
            _registered_filter(f)
            for f in list_record_filters(request.user)
            if f.parameter in request.GET
        ]
        return [ObjectTypeFilter, *owner_filters, *enum_filters, *registered, "created_at"]

    def get_changelist(self, request, **kwargs):
        return RecordChangeList

    def changelist_view(self, request, extra_context=None):
        object_type = self.object_type_for(request)
        if object_type is None:
            return super().changelist_view(request, extra_context)  # redirects to a type
        # ?view=<id> names the saved view being shown; it is not a filter of the list.
        opened = request.GET.get(VIEW_PARAM, "")
        if opened:
            request.GET = request.GET.copy()
            del request.GET[VIEW_PARAM]
        views = list(selectors.list_saved_views(owner=request.user, object_type=object_type))
        context = {
            "title": object_type.label_plural,
            "object_type": object_type,
            "banners": self._banners(request),
            "saved_views": [(v, self._view_url(v)) for v in views],
            "current_view": next((v for v in views if str(v.pk) == opened), None),
            "view_query": filter_part(request.GET),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def _banners(self, request) -> list[dict]:
        """Why the list is filtered, for filters that came from elsewhere (e.g. Sync health)."""
        banners = []
        for record_filter in list_record_filters(request.user):
            value = request.GET.get(record_filter.parameter)
            description = record_filter.describe(value) if value else None
            if description is not None:
                banners.append(description)
        return banners

    @staticmethod
    def _view_url(view: SavedView) -> str:
        url = reverse("admin:crm_record_changelist")
        query = f"&{view.query}" if view.query else ""
        return f"{url}?{TYPE_PARAM}={view.object_type.name}{query}&{VIEW_PARAM}={view.pk}"

    def get_urls(self):
        save = path(
            "save-view/",
            self.admin_site.admin_view(self.save_view_view),
            name="crm_record_save_view",
        )
        return [save, *super().get_urls()]

    def save_view_view(self, request):
        """Save the record list's current filter as a named view of the user's."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        object_type = self.object_type_for(request)
        if object_type is None:
            raise Http404("No such object type.")
        query = request.POST.get("query", "")
        back = reverse("admin:crm_record_changelist") + f"?{TYPE_PARAM}={object_type.name}"
        try:
            view = saved_view_services.create_saved_view(
                owner=request.user,
                object_type=object_type,
                name=request.POST.get("name", ""),
                query=query,
            )
        except SavedViewError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(back + (f"&{query}" if query else ""))
        messages.success(request, f"Saved the view “{view.name}”.")
        return HttpResponseRedirect(self._view_url(view))

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

    @admin.action(description="Merge selected records…", permissions=["change"])
    def merge_selected(self, request, queryset):
        return merge_page(self, request, queryset)

    @admin.action(description="Assign owner…", permissions=["change"])
    def assign_owner(self, request, queryset):
        return assign_owner_page(self, request, queryset)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is None and self.object_type_for(request) is None:
            return HttpResponseRedirect(f"{request.path}?{TYPE_PARAM}=contacts")
        return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # "Change contact", not "Change record": the object type, as the list names it.
        object_type = (
            obj.object_type if obj is not None else context["adminform"].form.schema.object_type
        )
        verb = "Add" if add else ("Change" if self.has_change_permission(request, obj) else "View")
        context["title"] = f"{verb} {object_type.label_singular.lower()}"
        # Other apps' panels (the sync card) below a record's form: crm/record_panels.py.
        context["record_panels"] = list_record_panels(obj, request) if obj is not None else []
        return super().render_change_form(request, context, add, change, form_url, obj)


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
