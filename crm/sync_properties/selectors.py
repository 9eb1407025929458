"""Sync property reads: who reads a property ("Used in"), configurations, backfill progress."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse

from crm.models import Property, SyncPropertyConfig
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
