"""The owners API: the people records are assigned to (a record's `owner` holds an owner's id)."""

from __future__ import annotations

from django_filters import rest_framework as filters
from rest_framework import mixins, viewsets
from rest_framework.response import Response

from crm import selectors, sources
from crm.api import serializers as s
from crm.api.views import NewestFirstCursorPagination
from crm.models import Owner
from crm.services import owners as owner_services


class OwnerFilter(filters.FilterSet):
    active = filters.BooleanFilter(field_name="is_active", help_text="Only (in)active owners.")
    email = filters.CharFilter(method="filter_email", help_text="The owner of this email.")

    class Meta:
        model = Owner
        fields = []

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=owner_services.normalise_email(value))


class OwnerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Owners: the people records are assigned to. A record's `owner` property holds an
    owner's id. Owners are deactivated (`is_active: false`), never deleted: their records keep
    them, but no record can be given an inactive owner."""

    serializer_class = s.OwnerSerializer
    required_permissions = {
        "list": ["crm.view_owner"],
        "retrieve": ["crm.view_owner"],
        "create": ["crm.add_owner"],
        "partial_update": ["crm.change_owner"],
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    pagination_class = NewestFirstCursorPagination
    filterset_class = OwnerFilter

    def get_queryset(self):
        return selectors.list_owners()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        # Filled in place once the owners shown are known (a page, or the one owner).
        self._records_owned: dict[int, int] = getattr(self, "_records_owned", {})
        context["records_owned"] = self._records_owned
        return context

    def _count_records(self, owners) -> None:
        self.get_serializer_context()  # makes _records_owned
        self._records_owned.update(
            selectors.count_owned_records([o.pk for o in owners], self.request.user)
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        # The page's record counts in one query, not one per owner.
        self._count_records(page or [])
        return page

    def retrieve(self, request, *args, **kwargs):
        owner = self.get_object()
        self._count_records([owner])
        return Response(self.get_serializer(owner).data)

    def perform_create(self, serializer):
        serializer.instance = owner_services.create_owner(
            **serializer.validated_data, actor=self.request.user, source=sources.API
        )

    def perform_update(self, serializer):
        serializer.instance = owner_services.update_owner(
            owner=serializer.instance,
            changes=serializer.validated_data,
            actor=self.request.user,
            source=sources.API,
        )
        self._count_records([serializer.instance])
