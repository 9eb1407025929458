"""Sync property reads: who reads a property ("Used in"), configurations, backfill progress."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.urls import NoReverseMatch, reverse

from crm.models import Association, Property, Record, SyncPropertyConfig
from crm.sync_properties import engine
from crm.usage import PropertyUsage


def list_sync_readers(*, prop: Property) -> QuerySet[SyncPropertyConfig]:
    """The sync properties that copy from `prop`."""
    return (
        SyncPropertyConfig.objects.filter(source_property=prop)
        .select_related("property__object_type")
        .order_by("property__object_type__name", "property__name")
    )


def get_sync_config(*, prop: Property) -> SyncPropertyConfig | None:
    """The configuration of a sync property, with what its representation shows, or None."""
    if prop.type != Property.Type.PROPERTY_SYNC:
        return None
    return (
        SyncPropertyConfig.objects.filter(property=prop)
        .select_related("source_object_type", "source_property")
        .prefetch_related("definitions__from_object_type", "definitions__to_object_type")
        .first()
    )


def sync_property_usages(prop: Property) -> list[PropertyUsage]:
    """The "Used in" provider: sync properties reading `prop`."""
    usages = []
    for config in list_sync_readers(prop=prop):
        target = config.property
        try:
            url = reverse("admin:crm_property_change", args=[target.pk])
        except NoReverseMatch:
            url = ""
        usages.append(
            PropertyUsage(
                kind="sync_property",
                label=f"Sync property {target.object_type.name}.{target.name} ({target.label})",
                url=url,
            )
        )
    return usages


def get_copy_source(*, config: SyncPropertyConfig, record: Record) -> Record | None:
    """The associated record a sync property copies from for `record` (its labels, criterion).

    The same choice as the engine's set-based recompute, for one record: the record page says
    where its copied value came from.
    """
    route = engine.load_route(config)
    via_from = Association.objects.filter(
        definition_id__in=route.target_is_from, from_record=record
    ).values("to_record_id")
    via_to = Association.objects.filter(
        definition_id__in=route.target_is_to, to_record=record
    ).values("from_record_id")
    order = ("-created_at", "-pk") if route.last_created else ("created_at", "pk")
    return (
        Record.objects.filter(
            Q(pk__in=via_from) | Q(pk__in=via_to),
            object_type_id=route.source_type_id,
            archived_at__isnull=True,
        )
        .select_related("object_type")
        .order_by(*order)
        .first()
    )
