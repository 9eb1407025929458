"""Record list filters that other apps add, without crm importing those apps.

The sync engine adds "records affected by sync error N" (`?sync_error=N`): the health page's
"Create view" opens the record list with it, the list says why under a banner, and the
filter can be saved as a named view like any other. Each app registers its filters in its
AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from crm.models import Record


@dataclass(frozen=True, slots=True)
class FilterDescription:
    """What a filter value means, for people: the sidebar's choice and the list's banner."""

    label: str  # short, for the sidebar, e.g. "Picklists error #12"
    reason: str  # completes "Contacts …", e.g. "with a Picklists sync error of Salesforce"
    source_label: str = ""  # where the filter came from, e.g. "Sync health"
    source_url: str = ""


@dataclass(frozen=True, slots=True)
class RecordListFilter:
    parameter: str  # the query parameter, e.g. "sync_error"
    title: str  # the sidebar's heading, e.g. "sync error"
    # None when the value names nothing (refused when a view is saved, an empty list when opened).
    describe: Callable[[str], FilterDescription | None]
    narrow: Callable[[QuerySet[Record], str], QuerySet[Record]]


_filters: dict[str, RecordListFilter] = {}


def register_record_filter(record_filter: RecordListFilter) -> None:
    """Offer a filter on the record list; registering one parameter twice keeps the last."""
    _filters[record_filter.parameter] = record_filter


def get_record_filter(parameter: str) -> RecordListFilter | None:
    return _filters.get(parameter)


def list_record_filters() -> list[RecordListFilter]:
    return list(_filters.values())
