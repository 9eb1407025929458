"""Reads of the sync engine: integrations, stages for the dashboard, usage, errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db.models import OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from crm.usage import PropertyUsage
from syncengine.filtersets import DEFAULT_STAGE_ORDERING, SyncStageFilterSet, stage_ordering
from syncengine.models import FieldMapping, Integration, SyncError, SyncErrorCount, SyncStage
from syncengine.services.usage import used_in_window

DASHBOARD_DAYS = 5
# Google's default People API quota for writes (reads allow more); settable per integration.
GOOGLE_PER_MINUTE_QUOTA = 90


def list_integrations() -> QuerySet[Integration]:
    """Every integration, by name."""
    return Integration.objects.order_by("name", "pk")


def with_open_error_counts(queryset: QuerySet[Integration]) -> QuerySet[Integration]:
    """Annotate `open_errors`: current errors of each integration, from the health cards'
    kept counts (a subquery, so the list costs one query however many rows it shows)."""
    cards = (
        SyncErrorCount.objects.filter(integration=OuterRef("pk"))
        .order_by()
        .values("integration")
        .annotate(total=Sum("errors"))
        .values("total")
    )
    return queryset.annotate(open_errors=Coalesce(Subquery(cards), Value(0)))


def list_stages(
    *, filters: Mapping[str, object] | None = None, days: int | None = DASHBOARD_DAYS
) -> QuerySet[SyncStage]:
    """Sync stages of the last `days` days, newest first, narrowed by SyncStageFilterSet's
    parameters (`filters`, e.g. request.GET); values it cannot read are left out."""
    queryset = SyncStage.objects.select_related("object_type", "integration")
    if days is not None:
        queryset = queryset.filter(started_at__gte=timezone.now() - dt.timedelta(days=days))
    queryset = queryset.order_by(*stage_ordering([DEFAULT_STAGE_ORDERING]), "-pk")
    if filters is None:
        return queryset
    return SyncStageFilterSet(filters, queryset=queryset).qs


def group_stages_by_cycle(stages: QuerySet[SyncStage], *, ordering: str) -> QuerySet[SyncStage]:
    """The stages with those of one cycle together: cycles, and the stages within each, in
    the order `ordering` ("-started_at", "ended_at", …) asks, by the cycle's own time first.

    Sorting stages alone interleaves the stages of cycles that overlap (two integrations)."""
    field = ordering.lstrip("-")
    if field not in ("started_at", "ended_at"):
        field, ordering = "started_at", DEFAULT_STAGE_ORDERING
    by_cycle = stage_ordering([ordering.replace(field, f"cycle__{field}")])
    tie = "-" if ordering.startswith("-") else ""
    return stages.select_related("cycle").order_by(
        *by_cycle, f"{tie}cycle_id", *stage_ordering([ordering]), f"{tie}pk"
    )


def get_api_usage(*, integration: Integration) -> dict:
    """Calls used in the last 24 hours, the org's reported limit, and Concord's allocation;
    for Google, whose quotas are per minute, also the calls of the last minute and the quota."""
    usage = {
        "used_24h": used_in_window(integration=integration),
        "limit": integration.api_limit,
        "allocated": integration.api_allocation,
        "org_used": integration.api_org_used,
        "limit_seen_at": integration.api_limit_seen_at,
        "used_last_minute": None,
        "per_minute_quota": None,
    }
    if integration.kind == Integration.Kind.GOOGLE_CONTACTS:
        usage["used_last_minute"] = used_in_window(
            integration=integration, window=dt.timedelta(minutes=1)
        )
        usage["per_minute_quota"] = int(
            (integration.settings or {}).get("per_minute_quota", GOOGLE_PER_MINUTE_QUOTA)
        )
    return usage


def list_open_errors(*, integration: Integration) -> QuerySet[SyncError]:
    """Open sync errors of an integration, newest first."""
    return (
        SyncError.objects.filter(integration=integration, status=SyncError.Status.OPEN)
        .select_related("record", "object_type")
        .order_by("-last_seen_at", "-pk")
    )


def field_mapping_usages(prop) -> list[PropertyUsage]:
    """Where a property is used by integration field mappings ("Used in", SPEC P-8)."""
    mappings = FieldMapping.objects.filter(property=prop).select_related(
        "object_mapping__integration"
    )
    return [
        PropertyUsage(
            kind="field_mapping",
            label=f"{fm.object_mapping.integration.name} field mapping "
            f"{fm.object_mapping.remote_object}.{fm.remote_field} ({fm.get_rule_display()})",
            url=reverse("admin:syncengine_objectmapping_change", args=[fm.object_mapping_id]),
        )
        for fm in mappings
    ]


def list_fixed_field_mappings(*, integration: Integration) -> list[dict[str, str]]:
    """The default field mappings made with the integration (Google's eleven, SPEC G-4), with
    the remote field's label as the connector described it."""
    rows = (
        FieldMapping.objects.filter(object_mapping__integration=integration, is_default=True)
        .select_related("property", "object_mapping")
        .order_by("pk")
    )
    return [
        {
            "property": m.property.label,
            "property_name": m.property.name,
            "remote_field": m.remote_field,
            "remote_label": (m.object_mapping.remote_schema or {})
            .get(m.remote_field, {})
            .get("label", m.remote_field),
            "rule": m.get_rule_display(),
        }
        for m in rows
    ]
