"""The sync engine's filter definitions, one per model, shared by the admin dashboard, the API
and the selectors (NetBox's pattern): a filter is written once."""

from __future__ import annotations

from django.db.models import F, OrderBy
from django_filters import rest_framework as filters

from config.bounds import MAX_ID
from syncengine.models import SyncStage

STAGE_ORDERINGS = ("started_at", "ended_at")
DEFAULT_STAGE_ORDERING = "-started_at"


def stage_ordering(values: list[str]) -> list[OrderBy]:
    """ORDER BY for stage orderings such as "-started_at": stages not yet ended sort after
    the ended ones when descending, before them when ascending."""
    order = []
    for value in values:
        field = value.lstrip("-")
        if value.startswith("-"):
            order.append(F(field).desc(nulls_last=True))
        else:
            order.append(F(field).asc(nulls_first=True))
    return order


class StageOrderingFilter(filters.OrderingFilter):
    """Sorts by start or end (nulls placed as the dashboard shows them), newest id on ties."""

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.order_by(*stage_ordering(value), "-pk")


class SyncStageFilterSet(filters.FilterSet):
    """Filters of the sync status dashboard, the API's stage list and export, and list_stages."""

    integration = filters.NumberFilter(field_name="integration_id", min_value=1, max_value=MAX_ID)
    object_type = filters.CharFilter(field_name="object_type__name")
    operation = filters.ChoiceFilter(choices=SyncStage.Operation.choices)
    status = filters.ChoiceFilter(choices=SyncStage.Status.choices)
    started_after = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lte")
    ordering = StageOrderingFilter(fields=tuple((name, name) for name in STAGE_ORDERINGS))

    class Meta:
        model = SyncStage
        fields = ["integration", "object_type", "operation", "status"]
