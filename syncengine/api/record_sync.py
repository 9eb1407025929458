"""A record's sync card in the API: GET /api/v1/objects/{type}/records/{id}/sync/."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.bounds import parse_id
from crm import selectors as crm_selectors
from crm.models import ObjectType
from syncengine.record_sync import MAX_TIMELINE_LIMIT, TIMELINE_LIMIT, get_record_sync_card


class RecordRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    object_type = serializers.CharField(help_text="The object type's name, as in the API paths.")


class BlockingOut(serializers.Serializer):
    record = RecordRefOut()
    error = serializers.IntegerField(source="error_id", help_text="The sync error saying so.")
    message = serializers.CharField()


class OpenErrorOut(serializers.Serializer):
    id = serializers.IntegerField()
    category = serializers.CharField()
    code = serializers.CharField()
    direction = serializers.CharField()
    message = serializers.CharField()
    status = serializers.CharField()
    last_seen_at = serializers.DateTimeField()


class IntegrationSyncOut(serializers.Serializer):
    integration = serializers.IntegerField(source="integration_id")
    integration_name = serializers.CharField()
    kind = serializers.CharField()
    linked = serializers.BooleanField(help_text="Whether the record has a twin (or one to make).")
    remote_object = serializers.CharField()
    remote_id = serializers.CharField(help_text="Blank until the twin exists.")
    remote_url = serializers.CharField(help_text="The twin's page in the remote's own UI.")
    dormant = serializers.BooleanField(help_text="Outside the remote-side filter: nothing syncs.")
    remote_deleted_at = serializers.DateTimeField(allow_null=True)
    synced_at = serializers.DateTimeField(allow_null=True)
    last_pulled_at = serializers.DateTimeField(
        allow_null=True, help_text="The last pull that changed the record."
    )
    last_pushed_at = serializers.DateTimeField(
        allow_null=True, help_text="The last push that changed its twin."
    )
    open_errors = OpenErrorOut(many=True)
    blocks = BlockingOut(many=True, help_text="Records waiting for this one (associations).")
    blocked_by = BlockingOut(many=True, help_text="Records this one waits for (associations).")


class AssociationOut(serializers.Serializer):
    label = serializers.CharField(help_text="The association definition.")
    record = RecordRefOut()


class ChangeOut(serializers.Serializer):
    field = serializers.CharField(help_text="The remote field.")
    property = serializers.CharField(help_text="The Concord property; blank for none.")
    label = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)
    old_text = serializers.CharField(help_text="The old value as people read it (labels).")
    new_text = serializers.CharField(help_text="The new value as people read it (labels).")
    hidden = serializers.BooleanField(help_text="Values left out: the property is hidden to you.")


class TimelineItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    integration = serializers.IntegerField(source="integration_id")
    direction = serializers.ChoiceField(choices=["pull", "push"])
    outcome = serializers.ChoiceField(choices=["created", "updated", "failed"])
    stage = serializers.IntegerField(source="stage_id")
    stage_label = serializers.CharField()
    stage_status = serializers.CharField()
    cycle = serializers.IntegerField(source="cycle_id")
    changes = ChangeOut(many=True)
    error = serializers.IntegerField(source="error_id", allow_null=True)
    error_message = serializers.CharField()


class RecordSyncOut(serializers.Serializer):
    record = serializers.IntegerField(source="record.pk")
    integrations = IntegrationSyncOut(many=True)
    outgoing = AssociationOut(many=True, help_text="Associations from this record.")
    incoming = AssociationOut(many=True, help_text="Associations to this record.")
    timeline = TimelineItemOut(many=True, help_text="Newest first, at most `limit` rows.")
    errors_visible = serializers.BooleanField(
        help_text="False: you may not read sync errors, so none are listed (nor their texts)."
    )


class RecordSyncView(APIView):
    """A record's sync card: per integration its remote twin (with a link into the remote's
    UI), last pull and push, open errors, the records it blocks and those blocking it; its
    associations both ways; and its sync timeline, newest first."""

    required_permissions = {"get": ["crm.view_record"]}  # as reading the record

    @extend_schema(
        operation_id="objects_records_sync_retrieve",
        parameters=[
            OpenApiParameter("object_type", str, OpenApiParameter.PATH),
            OpenApiParameter("id", int, OpenApiParameter.PATH, description="The record's id."),
            OpenApiParameter(
                "limit",
                int,
                description=f"Timeline rows, 1 to {MAX_TIMELINE_LIMIT} (default {TIMELINE_LIMIT}).",
            ),
        ],
        responses=RecordSyncOut,
    )
    def get(self, request, **kwargs):
        limit = _limit(request.query_params.get("limit"))
        record_id = parse_id(kwargs["id"])
        if record_id is None:
            raise Http404
        object_type = get_object_or_404(ObjectType, name=kwargs["object_type"])
        record = get_object_or_404(
            crm_selectors.list_records(object_type=object_type), pk=record_id
        )
        card = get_record_sync_card(record=record, user=request.user, limit=limit)
        return Response(RecordSyncOut(card).data)


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return TIMELINE_LIMIT
    value = parse_id(raw)
    if value is None or value > MAX_TIMELINE_LIMIT:
        message = f"must be a whole number from 1 to {MAX_TIMELINE_LIMIT}"
        raise ValidationError({"detail": f"limit {message}.", "errors": {"limit": [message]}})
    return value
