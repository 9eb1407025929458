"""Sync health API: the health summary, sync errors (keyset pages), resync, CSV export."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.views import APIView

from config.bounds import parse_id
from config.fields import IdField
from config.renderers import CSV_DOWNLOAD_RENDERERS, DownloadNegotiationMixin
from crm.csv_writer import CSV_MEDIA_TYPE
from syncengine.api.held_deletes import HeldDeleteGroupOut
from syncengine.health import selectors
from syncengine.health.export import errors_csv_response
from syncengine.health.info import info_for
from syncengine.health.rows import error_rows
from syncengine.health.services import (
    MAX_RESYNC,
    TOO_MANY,
    resync_errors,
)
from syncengine.models import Integration, SyncError


class ApiUsageOut(serializers.Serializer):
    used_24h = serializers.IntegerField()
    limit = serializers.IntegerField(allow_null=True)
    allocated = serializers.IntegerField(allow_null=True)


class CardOut(serializers.Serializer):
    type = serializers.CharField()
    label = serializers.CharField()
    errors = serializers.IntegerField()
    affected_records = serializers.IntegerField()


class HealthOut(serializers.Serializer):
    api_usage = ApiUsageOut()
    cards = CardOut(many=True)
    held_deletes = HeldDeleteGroupOut(
        many=True, help_text='The "Mass delete held" card: deletes awaiting an admin.'
    )


class SyncErrorOut(serializers.Serializer):
    """A row as health.rows shapes it (`summary`: the sentence a person reads, records named,
    `cause`: why a blocking record is not in the remote, with a link), plus API links."""

    def to_representation(self, instance):
        row = instance if isinstance(instance, dict) else error_rows([instance])[0]
        request = self.context.get("request")
        row = {**row, "cause": row["cause"]}
        if request is not None and row["record"]:
            row["record_url"] = request.build_absolute_uri(
                f"/api/v1/objects/{row['record_type']}/records/{row['record']}/"
            )
        for key in [k for k in row if k.endswith("admin_url")]:
            row.pop(key)  # admin pages: the API's clients follow record_url instead
        if row["cause"] and request is not None:
            row["cause"] = {**row["cause"], "url": request.build_absolute_uri(row["cause"]["url"])}
        return row


class SyncErrorDetailOut(SyncErrorOut):
    def to_representation(self, instance):
        return {**super().to_representation(instance), **_info(instance)}


def _info(error: SyncError) -> dict:
    info = info_for(error.category, error.code)
    return {"explanation": info["explanation"], "resolution_steps": info["steps"]}


class ResyncIn(serializers.Serializer):
    ids = serializers.ListField(child=IdField(), allow_empty=False)

    def validate_ids(self, value):
        if len(set(value)) > MAX_RESYNC:
            raise ValidationError(TOO_MANY.format(max=MAX_RESYNC, n=len(set(value))))
        return value


class ResyncOut(serializers.Serializer):
    resyncing = serializers.IntegerField(help_text="Errors now resyncing.")
    records = serializers.IntegerField(help_text="Records queued for the push.")
    skipped = serializers.IntegerField(help_text="Errors left as they were (resolved ones).")


class KeysetPagination(BasePagination):
    """Newest first; `cursor` is the id of the last row seen (stable under inserts)."""

    def paginate_queryset(self, queryset, request, view=None):
        try:
            size = int(request.query_params.get("limit", selectors.PAGE_SIZE))
        except ValueError as exc:
            raise ValidationError({"limit": ["must be an integer"]}) from exc
        size = max(1, min(size, selectors.MAX_PAGE_SIZE))
        cursor = request.query_params.get("cursor")
        if cursor and parse_id(cursor) is None:
            raise ValidationError({"cursor": ["not a valid cursor"]})
        after = selectors.get_cursor_row(cursor=cursor)
        rows, last = selectors.keyset_page(queryset, after=after, size=size)
        self.next = None
        if last is not None:
            self.next = request.build_absolute_uri(
                request.get_full_path().split("?")[0]
                + "?"
                + _with(request.query_params, cursor=str(last.pk))
            )
        return rows

    def get_paginated_response(self, data):
        return Response({"next": self.next, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "properties": {"next": {"type": "string", "nullable": True}, "results": schema},
        }


def _with(params, **changes) -> str:
    query = params.copy()
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


FILTERS = [
    OpenApiParameter("integration", int),
    OpenApiParameter("type", str, enum=SyncError.Category.values),
    OpenApiParameter("status", str, enum=SyncError.Status.values),
    OpenApiParameter("record", int),
]


class IntegrationHealthView(APIView):
    """API call usage and the eight error cards of one integration."""

    required_permissions = {"get": ["syncengine.view_syncerror"]}

    @extend_schema(responses=HealthOut)
    def get(self, request, pk: int):
        integration = get_object_or_404(Integration, pk=pk)
        return Response(HealthOut(selectors.get_health(integration=integration)).data)


class SyncErrorViewSet(DownloadNegotiationMixin, viewsets.ReadOnlyModelViewSet):
    """Sync errors, current ones unless `status` says otherwise; resync and CSV export."""

    required_permissions = {
        "list": ["syncengine.view_syncerror"],
        "retrieve": ["syncengine.view_syncerror"],
        "export": ["syncengine.view_syncerror"],
        "resync": ["syncengine.start_sync"],
    }
    pagination_class = KeysetPagination
    filter_backends: list = []
    serializer_class = SyncErrorOut

    def get_serializer_class(self):
        return SyncErrorDetailOut if self.action == "retrieve" else SyncErrorOut

    def _filters(self) -> dict:
        # Checked before any answer starts: the export streams, and a filter found wrong
        # while streaming would cut a 200 off after its header.
        params = self.request.query_params
        errors, values = {}, {}
        for name in ("integration", "record"):
            raw = params.get(name)
            if raw:
                if (value := parse_id(raw)) is None:
                    errors[name] = ["must be an id"]
                else:
                    values[name] = value
        for name, choices in (("type", SyncError.Category), ("status", SyncError.Status)):
            raw = params.get(name)
            if raw:
                if raw not in choices.values:
                    errors[name] = [f"must be one of {', '.join(choices.values)}"]
                else:
                    values["category" if name == "type" else name] = raw
        if errors:
            raise ValidationError(errors)
        return values

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.with_page_details(SyncError.objects.all())
        return selectors.with_page_details(selectors.list_errors(**self._filters()))

    @extend_schema(parameters=FILTERS)
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        # Named and linked as a page: a fixed number of queries whatever its length.
        data = self.get_serializer(error_rows(page), many=True).data
        return self.get_paginated_response(data)

    @extend_schema(request=ResyncIn, responses={202: ResyncOut})
    @action(detail=False, methods=["post"])
    def resync(self, request):
        """Push the errors' records now (at most 100 errors); they become "resyncing"."""
        data = ResyncIn(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["ids"]
        integrations = set(
            SyncError.objects.filter(pk__in=ids).values_list("integration_id", flat=True)
        )
        if len(integrations) != 1:
            raise ValidationError({"ids": ["no such errors" if not integrations else
                                           "errors of one integration at a time"]})  # fmt: skip
        integration = Integration.objects.get(pk=integrations.pop())
        counts = resync_errors(integration=integration, error_ids=ids, actor=request.user)
        return Response(counts, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=FILTERS,
        responses={
            (200, CSV_MEDIA_TYPE): OpenApiTypes.STR,
            400: OpenApiResponse(description="A filter is not valid; nothing was streamed."),
        },
    )
    @action(detail=False, methods=["get"], renderer_classes=CSV_DOWNLOAD_RENDERERS)
    def export(self, request):
        """The filtered errors as CSV, streamed."""
        queryset = selectors.list_errors(**self._filters())
        return errors_csv_response(queryset, filename="sync-errors.csv")
