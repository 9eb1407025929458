"""CRM API views: each wires a serializer, filters, pagination and a selector to a service."""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from config.pagination import CursorPagination
from crm import selectors, sources
from crm.api import serializers as s
from crm.api.record_json import ROW, page_body, record_rows, renders_in_database
from crm.errors import AssociationError, FilterError
from crm.models import (
    Association,
    AssociationDefinition,
    AuditEvent,
    ObjectType,
    Property,
    Record,
)
from crm.owners import (
    OWNER_PARAM,
    OWNER_PROPERTY,
    InvalidOwnerFilter,
    can_filter_by_owner,
    narrow_by_owner,
)
from crm.schema import PropertyAccess, load_object_type_with_access, load_schema
from crm.services import associations as association_services
from crm.services import merge as merge_services
from crm.services import records as record_services
from crm.services import schema as schema_services
from crm.usage import list_property_usages

PROPERTY_FILTER_PREFIX = "property."
NAME_PATTERN = "[a-z][a-z0-9_]{0,99}"  # crm.models.NAME_VALIDATOR's, in a URL


class NewestFirstCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 100


class ObjectTypeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Object types: the standard ones and custom ones staff create."""

    serializer_class = s.ObjectTypeSerializer
    required_permissions = {
        "list": ["crm.view_objecttype"],
        "retrieve": ["crm.view_objecttype"],
        "create": ["crm.add_objecttype"],
    }
    lookup_field = "name"
    # Only what a name can be (NAME_VALIDATOR): anything else, a NUL say (which PostgreSQL
    # refuses in a query), is a 404 from the router and never reaches the database.
    lookup_value_regex = NAME_PATTERN
    pagination_class = None

    def get_queryset(self):
        return selectors.list_object_types()

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = schema_services.create_object_type(
            name=data["name"],
            label_singular=data["label_singular"],
            label_plural=data["label_plural"],
            actor=self.request.user,
            source=sources.API,
        )


class PropertyViewSet(viewsets.ModelViewSet):
    """The properties of one object type, with their options."""

    serializer_class = s.PropertySerializer
    required_permissions = {
        "list": ["crm.view_property"],
        "retrieve": ["crm.view_property"],
        "create": ["crm.add_property"],
        "update": ["crm.change_property"],
        "partial_update": ["crm.change_property"],
        "destroy": ["crm.delete_property"],
        "usage": ["crm.view_property"],
    }
    # Usage names integrations and admin pages: staff only, whatever else a user may read.
    staff_actions = {"usage"}
    lookup_field = "name"
    lookup_url_kwarg = "property_name"
    lookup_value_regex = NAME_PATTERN
    pagination_class = None

    def get_object_type(self) -> ObjectType:
        if not hasattr(self, "_object_type"):
            self._object_type = get_object_or_404(ObjectType, name=self.kwargs["object_type"])
        return self._object_type

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no object type
            return Property.objects.none()
        return (
            self.get_object_type()
            .property_definitions.select_related(
                "object_type",
                "sync_config__source_object_type",
                "sync_config__source_property",
            )
            .prefetch_related("options", "sync_config__definitions")
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        options = data.pop("options", [])
        serializer.instance = schema_services.create_property(
            object_type=self.get_object_type(),
            name=data.pop("name"),
            label=data.pop("label"),
            type=data.pop("type", "text"),
            options=options,
            sync=data.pop("sync_config", None),
            actor=self.request.user,
            source=sources.API,
            **data,
        )
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        options = data.pop("options", None)
        replace_with = data.pop("replace_with", None)
        sync = data.pop("sync_config", None)
        serializer.instance = schema_services.update_property(
            prop=serializer.instance,
            changes=data,
            options=options,
            sync=sync,
            replace_with=replace_with,
            actor=self.request.user,
            source=sources.API,
        )
        # Re-read: the service changed the sync configuration the serializer holds.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_destroy(self, instance):
        schema_services.delete_property(prop=instance, actor=self.request.user, source=sources.API)

    @extend_schema(responses=s.PropertyUsageListSerializer)
    @action(detail=True, methods=["get"])
    def usage(self, request, *args, **kwargs):
        """Where the property is used: sync properties reading it, field mappings, filters."""
        prop = self.get_object()
        usages = list_property_usages(prop, viewer=request.user)
        return Response(
            {
                "property": f"{prop.object_type.name}.{prop.name}",
                "used_in": [{"kind": u.kind, "label": u.label, "url": u.url} for u in usages],
            }
        )


class RecordFilter(filters.FilterSet):
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = Record
        fields = []


RECORD_LIST_PARAMETERS = [
    OpenApiParameter(
        "property.<name>",
        OpenApiTypes.STR,
        description=(
            "Keep records whose property equals the value (coerced by the property's type; "
            "empty matches records without a value), e.g. `property.email=ada@example.com`. "
            "Repeat for several properties."
        ),
    ),
    OpenApiParameter(
        "properties",
        OpenApiTypes.STR,
        description=("Comma-separated property names to return (default: all you may see)."),
    ),
    OpenApiParameter(
        OWNER_PARAM,
        OpenApiTypes.STR,
        description="Keep the records of one owner: an owner's id, `me` (the owner you are; "
        "none if you are no owner) or `none` (records without an owner).",
    ),
    OpenApiParameter("archived", OpenApiTypes.BOOL, description="List the recycle bin."),
]


@extend_schema_view(list=extend_schema(parameters=RECORD_LIST_PARAMETERS))
class RecordViewSet(viewsets.ModelViewSet):
    """Records of one object type. DELETE moves a record to the recycle bin."""

    serializer_class = s.RecordSerializer
    required_permissions = {
        "list": ["crm.view_record"],
        "retrieve": ["crm.view_record"],
        "create": ["crm.add_record"],
        "partial_update": ["crm.change_record"],
        "destroy": ["crm.delete_record"],
        "restore": ["crm.change_record"],  # as the admin's recycle bin
        "batch": ["crm.add_record", "crm.change_record"],  # an upsert may do either
        # A merge changes the winner and archives the losers, as editing and the recycle bin.
        "merge": ["crm.change_record"],
    }
    pagination_class = NewestFirstCursorPagination
    filterset_class = RecordFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_object_type(self) -> ObjectType:
        if not hasattr(self, "_object_type"):
            # Who may see which property comes along: every answer about records needs it.
            try:
                self._object_type, self._access = load_object_type_with_access(
                    self.kwargs["object_type"]
                )
            except ObjectType.DoesNotExist:
                raise Http404("No ObjectType matches the given query.") from None
        return self._object_type

    def get_filter_schema(self):
        """The definitions of just the properties this list filters on (`property.<name>` and
        the owner), with who may see them: every definition with its options cost a filtered
        list two queries and a millisecond of building models it never looked at."""
        if not hasattr(self, "_filter_schema"):
            names = set(self.property_filters())
            if OWNER_PARAM in self.request.query_params:
                names.add(OWNER_PROPERTY)
            self._filter_schema = load_schema(
                self.get_object_type(), names=names, access=self.get_property_access()
            )
        return self._filter_schema

    def property_filters(self) -> dict[str, str]:
        """The `property.<name>=<value>` filters asked for, by property name."""
        return {
            key[len(PROPERTY_FILTER_PREFIX) :]: value
            for key, value in self.request.query_params.items()
            if key.startswith(PROPERTY_FILTER_PREFIX)
        }

    def get_property_access(self) -> PropertyAccess:
        """Who may see which property: loaded with the object type (one small query)."""
        self.get_object_type()
        return self._access

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "object_type" in self.kwargs:
            context["shown_names"] = set(self.shown_property_names())
        return context

    def shown_property_names(self) -> list[str]:
        """The properties a record shows the caller: those it may see, of those it asked for."""
        wanted = self.wanted_property_names()
        visible = self.get_property_access().visible_names(self.request.user)
        return [name for name in visible if wanted is None or name in wanted]

    def wanted_property_names(self) -> set[str] | None:
        """The names `?properties=` asks for; None when it asks for none (all are shown)."""
        wanted = self.request.query_params.get("properties")
        return {n.strip() for n in wanted.split(",") if n.strip()} if wanted else None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no object type
            return Record.objects.none()
        # Restoring acts on the recycle bin; reading looks there when ?archived=true.
        wants_bin = self.request.query_params.get("archived") in ("1", "true")
        archived = self.action == "restore" or (self.action in ("list", "retrieve") and wants_bin)
        queryset = selectors.list_records(object_type=self.get_object_type(), archived=archived)
        if self.action == "list":
            if property_filters := self.property_filters():
                try:
                    queryset = selectors.filter_records_by_properties(
                        queryset,
                        schema=self.get_filter_schema(),
                        filters=property_filters,
                        user=self.request.user,
                    )
                except FilterError as exc:
                    field = f"{PROPERTY_FILTER_PREFIX}{exc.name}"
                    raise ValidationError(
                        {"detail": exc.message, "errors": {field: [exc.message]}}
                    ) from None
            if OWNER_PARAM in self.request.query_params:
                queryset = self._narrow_by_owner(queryset, self.request.query_params[OWNER_PARAM])
        return queryset

    def list(self, request, *args, **kwargs):
        # PostgreSQL builds the page's JSON itself (crm.api.record_json): the same answer as
        # the serializer's, without decoding and re-encoding every record in Python.
        if not renders_in_database(request):
            return super().list(request, *args, **kwargs)
        rows = record_rows(
            self.filter_queryset(self.get_queryset()),
            object_type_name=self.get_object_type().name,
            property_names=self.shown_property_names(),
        )
        page = self.paginate_queryset(rows)
        body = page_body(
            next_link=self.paginator.get_next_link(),
            previous_link=self.paginator.get_previous_link(),
            rows=[row[ROW] for row in page],
        )
        return HttpResponse(body, content_type="application/json")

    def _narrow_by_owner(self, queryset, value: str):
        if not can_filter_by_owner(self.get_filter_schema(), self.request.user):
            message = f"{self.get_object_type().label_plural} have no owner to filter on"
        else:
            try:
                return narrow_by_owner(queryset, value, self.request.user)
            except InvalidOwnerFilter as exc:
                message = str(exc)
        raise ValidationError({"detail": message, "errors": {OWNER_PARAM: [message]}})

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = record_services.create_record(
            object_type=self.get_object_type(),
            properties=serializer.validated_data["properties"],
            actor=request.user,
            source=sources.API,
        )
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        record = self.get_object()
        serializer = self.get_serializer(record, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        properties = serializer.validated_data.get("properties", {})
        record = record_services.update_record(
            record=record, properties=properties, actor=request.user, source=sources.API
        )
        return Response(self.get_serializer(record).data)

    def perform_destroy(self, instance):
        record_services.archive_records(
            object_type=instance.object_type,
            record_ids=[instance.pk],
            actor=self.request.user,
            source=sources.API,
        )

    @extend_schema(request=None, responses=s.RecordSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request, *args, **kwargs):
        """Bring a record back from the recycle bin."""
        record = self.get_object()
        record_services.restore_records(
            object_type=record.object_type,
            record_ids=[record.pk],
            actor=request.user,
            source=sources.API,
        )
        record.refresh_from_db()
        return Response(self.get_serializer(record).data)

    @extend_schema(request=s.MergeRequestSerializer, responses=s.RecordSerializer)
    @action(detail=False, methods=["post"])
    def merge(self, request, *args, **kwargs):
        """Merge duplicates into one winner: its empty values filled from the losers (unless
        `fill_blanks` is false), their associations moved to it, the losers archived with
        `merged_into` pointing at it. Answers the winner; a refused merge changes nothing."""
        serializer = s.MergeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        winner = merge_services.merge_records(
            object_type=self.get_object_type(),
            winner_id=data["winner"],
            loser_ids=data["losers"],
            fill_blanks=data["fill_blanks"],
            actor=request.user,
            source=sources.API,
        )
        return Response(self.get_serializer(winner).data)

    @extend_schema(request=s.BatchRequestSerializer, responses=s.BatchResponseSerializer)
    @action(detail=False, methods=["post"])
    def batch(self, request, *args, **kwargs):
        """Create, update or upsert up to 100 records, with a result per input."""
        serializer = s.BatchRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["action"] == "update" and any("id" not in i for i in data["inputs"]):
            raise ValidationError({"inputs": ["every input of an update needs an id"]})
        result = record_services.write_records(
            object_type=self.get_object_type(),
            inputs=[
                record_services.RecordInput(properties=i["properties"], id=i.get("id"))
                for i in data["inputs"]
            ],
            mode=data["action"],
            id_property=data.get("id_property"),
            all_or_none=data["all_or_none"],
            actor=request.user,
            source=sources.API,
        )
        body = {
            "results": [
                {"index": i.index, "id": i.id, "action": i.action, "errors": i.errors}
                for i in result.items
            ],
            "created": result.count("created"),
            "updated": result.count("updated"),
            "unchanged": result.count("unchanged"),
            "failed": sum(1 for i in result.items if i.errors),
        }
        return Response(body)


class AssociationDefinitionViewSet(viewsets.ReadOnlyModelViewSet):
    """The kinds of association between object types, with their labels and limits."""

    serializer_class = s.AssociationDefinitionSerializer
    required_permissions = {
        "list": ["crm.view_associationdefinition"],
        "retrieve": ["crm.view_associationdefinition"],
    }
    pagination_class = None

    def get_queryset(self):
        return selectors.list_association_definitions()


class AssociationFilter(filters.FilterSet):
    record = filters.NumberFilter(method="filter_record", label="Either end is this record")

    class Meta:
        model = Association
        fields = ["definition", "from_record", "to_record"]

    def filter_record(self, queryset, name, value):
        return queryset.filter(Q(from_record_id=value) | Q(to_record_id=value))


class AssociationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Labelled links between records."""

    serializer_class = s.AssociationSerializer
    required_permissions = {
        "list": ["crm.view_association"],
        "retrieve": ["crm.view_association"],
        "create": ["crm.add_association"],
        "destroy": ["crm.delete_association"],
    }
    pagination_class = NewestFirstCursorPagination
    filterset_class = AssociationFilter

    def get_queryset(self):
        return selectors.list_associations()

    @extend_schema(request=s.AssociationCreateSerializer, responses=s.AssociationSerializer)
    def create(self, request, *args, **kwargs):
        serializer = s.AssociationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        records = {
            r.pk: r for r in Record.objects.filter(pk__in=[data["from_record"], data["to_record"]])
        }
        from_record, to_record = records.get(data["from_record"]), records.get(data["to_record"])
        if from_record is None or to_record is None:
            missing = data["from_record"] if from_record is None else data["to_record"]
            raise AssociationError(f"record {missing} does not exist")
        definition = _find_definition(data, from_record, to_record)
        association = association_services.associate(
            definition=definition,
            from_record=from_record,
            to_record=to_record,
            actor=request.user,
            source=sources.API,
        )
        association = self.get_queryset().get(pk=association.pk)
        return Response(self.get_serializer(association).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        association_services.dissociate(
            associations=[instance], actor=self.request.user, source=sources.API
        )


def _find_definition(data, from_record: Record, to_record: Record) -> AssociationDefinition:
    if "definition" in data:
        definition = AssociationDefinition.objects.filter(pk=data["definition"]).first()
        if definition is None:
            raise AssociationError(f"association definition {data['definition']} does not exist")
        return definition
    label = data.get("label", "")
    definition = AssociationDefinition.objects.filter(
        from_object_type_id=from_record.object_type_id,
        to_object_type_id=to_record.object_type_id,
        label=label,
    ).first()
    if definition is None:
        raise AssociationError(
            f"no association{f' labelled {label!r}' if label else ''} is defined from "
            f"record {from_record.pk}'s object type to record {to_record.pk}'s"
        )
    return definition


class AuditEventFilter(filters.FilterSet):
    object_type = filters.CharFilter(field_name="object_type__name")
    since = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["object_type", "target_id", "verb", "source", "actor"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Who changed what, newest first (staff only)."""

    serializer_class = s.AuditEventSerializer
    required_permissions = {
        "list": ["crm.view_auditevent"],
        "retrieve": ["crm.view_auditevent"],
    }
    pagination_class = NewestFirstCursorPagination
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return selectors.list_audit_events()
