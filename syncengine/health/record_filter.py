"""The record list's "records affected by sync error N" filter (`?sync_error=N`).

The health page's "Create view" opens the record list with it: the list says why under a
banner ("Contacts affected by Picklists sync error #12 of Salesforce — from Sync health") and
the filter can be saved as a named view. It follows the error: once the error resolves and its
affected records are cleared, the view lists none.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse

from config.bounds import parse_id
from crm.record_filters import FilterDescription, RecordListFilter
from syncengine.models import SyncError, SyncErrorAffectedRecord

PARAMETER = "sync_error"


def _error(value: str) -> SyncError | None:
    pk = parse_id(value)
    if pk is None:
        return None
    return SyncError.objects.select_related("integration").filter(pk=pk).first()


def describe(value: str) -> FilterDescription | None:
    error = _error(value)
    if error is None:
        return None
    category = error.get_category_display()
    # The category and the integration only: people who may list records but not read sync
    # errors learn no more than the health page's cards would tell them.
    return FilterDescription(
        label=f"{category} error #{error.pk}",
        reason=f"affected by {category} sync error #{error.pk} of {error.integration.name}",
        source_label="Sync health",
        source_url=reverse("admin:syncengine_integration_health", args=[error.integration_id])
        + f"?type={error.category}",
    )


def narrow(queryset: QuerySet, value: str) -> QuerySet:
    """The records the error holds back; an error on one record alone, that record."""
    error = _error(value)
    if error is None:
        return queryset.none()
    affected = SyncErrorAffectedRecord.objects.filter(error=error)
    if affected.exists():
        return queryset.filter(pk__in=affected.values("record_id"))
    return queryset.filter(pk=error.record_id) if error.record_id else queryset.none()


SYNC_ERROR_FILTER = RecordListFilter(
    parameter=PARAMETER,
    title="sync error",
    describe=describe,
    narrow=narrow,
    # The banner names the error, its category and integration: sync error readers only.
    permission="syncengine.view_syncerror",
)
