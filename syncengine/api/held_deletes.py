"""Mass-delete guard API (SPEC L-5): held deletes, confirm or discard them, thresholds."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.fields import IdField
from syncengine.health import selectors
from syncengine.models import HeldDelete, Integration, ObjectMapping
from syncengine.services import held_deletes as services


class HeldDeleteGroupOut(serializers.Serializer):
    """One mapping's held deletes in one direction."""

    object_mapping = serializers.IntegerField()
    object_type = serializers.CharField()
    remote_object = serializers.CharField()
    direction = serializers.ChoiceField(choices=HeldDelete.Direction.choices)
    direction_label = serializers.CharField()
    count = serializers.IntegerField(help_text="Deletes held.")
    sample = serializers.ListField(
        child=serializers.CharField(), help_text="Names of the first few records held."
    )


class DecisionIn(serializers.Serializer):
    object_mapping = IdField()
    direction = serializers.ChoiceField(choices=HeldDelete.Direction.choices)


class ConfirmOut(serializers.Serializer):
    confirmed = serializers.IntegerField(help_text="Held deletes confirmed.")
    archived = serializers.IntegerField(help_text="Concord records archived (pull deletes).")


class DiscardOut(serializers.Serializer):
    discarded = serializers.IntegerField(help_text="Held deletes discarded.")


class ThresholdOut(serializers.Serializer):
    object_mapping = serializers.IntegerField()
    object_type = serializers.CharField()
    remote_object = serializers.CharField()
    share = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=False)
    minimum = serializers.IntegerField()
    linked = serializers.IntegerField(help_text="Linked records of the mapping.")
    limit = serializers.IntegerField(help_text="Deletes a stage may apply now unconfirmed.")


class ThresholdIn(serializers.Serializer):
    object_mapping = IdField()
    share = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        required=False,
        help_text="Greater than 0, at most 1 (0.1 = 10 % of the linked records).",
    )
    minimum = serializers.IntegerField(required=False, min_value=0, max_value=2_147_483_647)


ERROR_400 = OpenApiResponse(description="Bad input; nothing was changed.")


class HeldDeletesView(APIView):
    """Deletes the mass-delete guard holds, per mapping and direction, with a sample."""

    required_permissions = {"get": ["syncengine.view_syncerror"]}

    @extend_schema(responses=HeldDeleteGroupOut(many=True))
    def get(self, request, pk: int):
        integration = get_object_or_404(Integration, pk=pk)
        groups = selectors.list_held_deletes(integration=integration)
        return Response(HeldDeleteGroupOut(groups, many=True).data)


class ConfirmHeldDeletesView(APIView):
    """Apply one mapping's held deletes: pull deletes archive the Concord records now; push
    deletes are sent by the next sync cycle."""

    required_permissions = {"post": ["syncengine.change_integration"]}

    @extend_schema(request=DecisionIn, responses={200: ConfirmOut, 400: ERROR_400})
    def post(self, request, pk: int):
        integration = get_object_or_404(Integration, pk=pk)
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.confirm_held_deletes(
            integration=integration, **_decision(data.validated_data), actor=request.user
        )
        return Response(result)


class DiscardHeldDeletesView(APIView):
    """Drop one mapping's held deletes: both sides keep their records."""

    required_permissions = {"post": ["syncengine.change_integration"]}

    @extend_schema(request=DecisionIn, responses={200: DiscardOut, 400: ERROR_400})
    def post(self, request, pk: int):
        integration = get_object_or_404(Integration, pk=pk)
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.discard_held_deletes(
            integration=integration, **_decision(data.validated_data), actor=request.user
        )
        return Response(result)


def _decision(data: dict) -> dict:
    return {"object_mapping_id": data["object_mapping"], "direction": data["direction"]}


class MassDeleteThresholdsView(APIView):
    """When the mass-delete guard holds deletes, per mapping: more than max(share x linked
    records, minimum) in one stage. PATCH changes one mapping's share and/or minimum."""

    required_permissions = {
        "get": ["syncengine.view_objectmapping"],
        "patch": ["syncengine.change_integration"],
    }

    @extend_schema(responses=ThresholdOut(many=True))
    def get(self, request, pk: int):
        integration = get_object_or_404(Integration, pk=pk)
        return Response(
            ThresholdOut(
                selectors.list_mass_delete_thresholds(integration=integration), many=True
            ).data
        )

    @extend_schema(request=ThresholdIn, responses={200: ThresholdOut(many=True), 400: ERROR_400})
    def patch(self, request, pk: int):
        integration = get_object_or_404(Integration, pk=pk)
        data = ThresholdIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        om = ObjectMapping.objects.filter(pk=v["object_mapping"], integration=integration).first()
        if om is None:
            raise ValidationError({"object_mapping": [f"{integration} has no such mapping"]})
        services.set_mass_delete_threshold(
            object_mapping=om, share=v.get("share"), minimum=v.get("minimum"), actor=request.user
        )
        return Response(
            ThresholdOut(
                selectors.list_mass_delete_thresholds(integration=integration), many=True
            ).data
        )
