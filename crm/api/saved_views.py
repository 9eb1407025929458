"""The saved views API: a user's named, filtered lists of records (SPEC T-2)."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from crm import selectors
from crm.api import serializers as s
from crm.api.views import NewestFirstCursorPagination
from crm.models import SavedView
from crm.services import saved_views as saved_view_services


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "object_type", OpenApiTypes.STR, description="Only views of this object type."
            )
        ]
    ),
    partial_update=extend_schema(
        request=s.SavedViewRenameSerializer, responses=s.SavedViewSerializer
    ),
)
class SavedViewViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's saved views of records (SPEC T-2): create, rename, delete. A view is
    personal: another user's views are not found here."""

    serializer_class = s.SavedViewSerializer
    # Anyone who may read records may keep named lists of them.
    required_permissions = {
        "list": ["crm.view_record"],
        "retrieve": ["crm.view_record"],
        "create": ["crm.view_record"],
        "partial_update": ["crm.view_record"],
        "destroy": ["crm.view_record"],
    }
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema, with no user
            return SavedView.objects.none()
        queryset = selectors.list_saved_views(owner=self.request.user)
        name = self.request.query_params.get("object_type")
        return queryset.filter(object_type__name=name) if name else queryset

    def perform_create(self, serializer):
        serializer.instance = saved_view_services.create_saved_view(
            owner=self.request.user, **serializer.validated_data
        )

    def partial_update(self, request, *args, **kwargs):
        view = self.get_object()
        # set() of a JSON list or string would "work" and then fail on .get(): refuse it here.
        if not isinstance(request.data, Mapping):
            raise ValidationError({"non_field_errors": ['Send a JSON object, e.g. {"name": …}.']})
        extra = sorted(set(request.data) - {"name"})
        if extra:
            raise ValidationError(
                {f: ["A saved view's filter and object type are fixed; save a new view."]
                 for f in extra}
            )  # fmt: skip
        rename = s.SavedViewRenameSerializer(data=request.data)
        rename.is_valid(raise_exception=True)
        view = saved_view_services.rename_saved_view(
            view=view, name=rename.validated_data["name"], actor=request.user
        )
        return Response(self.get_serializer(view).data)

    def perform_destroy(self, instance):
        saved_view_services.delete_saved_view(view=instance, actor=self.request.user)
