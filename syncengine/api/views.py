"""Sync engine API: integrations, cycles on demand, API usage, mappings, stages and CSV."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from config.renderers import CSV_DOWNLOAD_RENDERERS, DownloadNegotiationMixin
from crm.csv_writer import CSV_MEDIA_TYPE
from crm.models import Property
from syncengine import selectors
from syncengine.api import serializers as s
from syncengine.engine.cycles import start_cycle
from syncengine.export import stages_csv_response
from syncengine.filtersets import SyncStageFilterSet
from syncengine.models import FieldMapping, Integration, ObjectMapping
from syncengine.services import google_contacts as google_services
from syncengine.services import mappings as mapping_services
from syncengine.services.integrations import update_integration
from syncengine.services.usage import set_api_allocation


class IntegrationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Integrations: list, detail, PATCH name/settings/allocation; start a cycle now."""

    serializer_class = s.IntegrationSerializer
    required_permissions = {
        "list": ["syncengine.view_integration"],
        "retrieve": ["syncengine.view_integration"],
        "partial_update": ["syncengine.change_integration"],
        "sync": ["syncengine.start_sync"],
        "api_usage:get": ["syncengine.view_integration"],
        "api_usage:patch": ["syncengine.change_integration"],
        "google_sync_options:get": ["syncengine.view_integration"],
        "google_sync_options:patch": ["syncengine.change_integration"],
        "mappings:get": ["syncengine.view_objectmapping"],
        "mappings:post": ["syncengine.add_fieldmapping"],
        "mappings:patch": ["syncengine.change_fieldmapping"],
    }
    pagination_class = None
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        return selectors.list_integrations()

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = update_integration(
            integration=serializer.instance,
            name=data.get("name"),
            settings_patch=data.get("settings"),
            api_allocation=data.get("api_allocation", ...),
            actor=self.request.user,
        )

    @extend_schema(request=None, responses={202: s.SyncStartedSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Start a sync cycle now (202); if one is queued or running, that one is returned."""
        integration = self.get_object()
        cycle, created = start_cycle(integration=integration, trigger="api", actor=request.user)
        return Response(
            {"cycle": cycle.pk, "status": cycle.status, "created": created},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=s.ApiUsageSerializer, responses=s.ApiUsageSerializer)
    @action(detail=True, methods=["get", "patch"], url_path="api-usage")
    def api_usage(self, request, pk=None):
        """Calls used in the rolling 24 hours, the org's limit, and Concord's allocation."""
        integration = self.get_object()
        if request.method == "PATCH":
            serializer = s.ApiUsageSerializer(data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            if "allocated" in serializer.validated_data:
                set_api_allocation(
                    integration=integration,
                    allocated=serializer.validated_data["allocated"],
                    actor=request.user,
                )
        return Response(s.ApiUsageSerializer(selectors.get_api_usage(integration=integration)).data)

    @extend_schema(
        request=s.GoogleSyncOptionsSerializer,
        responses={
            200: s.GoogleSyncOptionsSerializer,
            400: OpenApiResponse(description="Not a Google Contacts integration, or bad input."),
        },
    )
    @action(detail=True, methods=["get", "patch"], url_path="google-sync-options")
    def google_sync_options(self, request, pk=None):
        """Google Contacts only: the sync rule (two_way, to_google, from_google, filters), the
        Google-side filters (my_contacts, starred) and the app that wins conflicts."""
        integration = self.get_object()
        if integration.kind != Integration.Kind.GOOGLE_CONTACTS:
            raise ValidationError({"detail": f"{integration} is not a Google Contacts integration"})
        if request.method == "PATCH":
            data = s.GoogleSyncOptionsSerializer(data=request.data, partial=True)
            data.is_valid(raise_exception=True)
            options = {**google_services.sync_options(integration), **data.validated_data}
            google_services.configure_sync(integration=integration, **options, actor=request.user)
        return Response(google_services.sync_options(integration))

    @extend_schema(methods=["GET"], responses=s.ObjectMappingSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=s.FieldMappingWriteSerializer,
        responses={201: s.ObjectMappingSerializer(many=True)},
    )
    @extend_schema(
        methods=["PATCH"],
        request=s.FieldMappingRulesSerializer,
        responses=s.ObjectMappingSerializer(many=True),
    )
    @action(detail=True, methods=["get", "post", "patch"])
    def mappings(self, request, pk=None):
        """Object and field mappings. POST adds a field mapping; PATCH changes rules:
        `{"field_mappings": [{"id": 3, "rule": "two_way"}]}` and delete rules:
        `{"object_mappings": [{"id": 1, "push_delete_rule": "delete", "confirm_deletes": true}]}`
        (deleting remotely is refused without the confirmation)."""
        integration = self.get_object()
        if request.method == "POST":
            data = s.FieldMappingWriteSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            om = get_object_or_404(ObjectMapping, pk=v["object_mapping"], integration=integration)
            prop = Property.objects.filter(object_type=om.object_type, name=v["property"]).first()
            if prop is None:
                raise ValidationError({"property": [f"no such property of {om.object_type.name}"]})
            mapping_services.save_field_mapping(
                object_mapping=om,
                prop=prop,
                remote_field=v["remote_field"],
                rule=v["rule"],
                value_map=v.get("value_map"),
                actor=request.user,
            )
        elif request.method == "PATCH":
            # A serializer for the whole body: one that is not an object is a 400, not a 500.
            rules = s.FieldMappingRulesSerializer(data=request.data)
            rules.is_valid(raise_exception=True)
            if "object_mappings" in rules.validated_data and not request.user.has_perm(
                "syncengine.change_objectmapping"
            ):
                raise PermissionDenied("Changing delete rules needs change_objectmapping.")
            with transaction.atomic():  # all rules change, or none
                for item in rules.validated_data.get("field_mappings", []):
                    fm = get_object_or_404(
                        FieldMapping, pk=item["id"], object_mapping__integration=integration
                    )
                    mapping_services.set_field_mapping_rule(
                        field_mapping=fm, rule=item["rule"], actor=request.user
                    )
                for item in rules.validated_data.get("object_mappings", []):
                    om = get_object_or_404(ObjectMapping, pk=item["id"], integration=integration)
                    mapping_services.set_delete_rules(
                        object_mapping=om,
                        pull_delete_rule=item.get("pull_delete_rule"),
                        push_delete_rule=item.get("push_delete_rule"),
                        confirm_deletes=item["confirm_deletes"],
                        actor=request.user,
                    )
        queryset = (
            ObjectMapping.objects.filter(integration=integration)
            .select_related("object_type")
            .prefetch_related(
                "field_mappings__property",
                "reference_mappings__definition__from_object_type",
                "reference_mappings__definition__to_object_type",
                "reference_mappings__target",
            )
        )
        code = status.HTTP_201_CREATED if request.method == "POST" else status.HTTP_200_OK
        return Response(s.ObjectMappingSerializer(queryset, many=True).data, status=code)


class StagePagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


class SyncStageViewSet(DownloadNegotiationMixin, viewsets.ReadOnlyModelViewSet):
    """Sync stages of the last five days, newest first (the status dashboard's rows)."""

    serializer_class = s.SyncStageSerializer
    required_permissions = {
        "list": ["syncengine.view_syncstage"],
        "retrieve": ["syncengine.view_syncstage"],
        "export": ["syncengine.view_syncstage"],
    }
    filterset_class = SyncStageFilterSet
    pagination_class = StagePagination

    def get_queryset(self):
        return selectors.list_stages()

    @extend_schema(
        filters=True,  # the list's filters apply to the export too
        responses={
            (200, CSV_MEDIA_TYPE): OpenApiTypes.STR,
            400: OpenApiResponse(description="A filter is not valid; nothing was streamed."),
        },
    )
    @action(detail=False, methods=["get"], renderer_classes=CSV_DOWNLOAD_RENDERERS)
    def export(self, request):
        """The filtered stages as CSV, streamed (filters are checked before it starts)."""
        queryset = self.filter_queryset(self.get_queryset())
        return stages_csv_response(queryset, filename="sync-stages.csv")
