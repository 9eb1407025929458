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
    # What a user needs besides viewing records, e.g. "syncengine.view_syncerror": the banner
    # and the filter tell about the thing filtered on. Without it the parameter is unknown.
    permission: str = ""

    def allowed(self, user) -> bool:
        return not self.permission or user.has_perm(self.permission)


_filters: dict[str, RecordListFilter] = {}


def register_record_filter(record_filter: RecordListFilter) -> None:
    """Offer a filter on the record list; registering one parameter twice keeps the last."""
    _filters[record_filter.parameter] = record_filter


def get_record_filter(parameter: str, user) -> RecordListFilter | None:
    """The filter of `parameter` if `user` may apply it; else None, as for an unknown one."""
    record_filter = _filters.get(parameter)
    return record_filter if record_filter and record_filter.allowed(user) else None


def list_record_filters(user) -> list[RecordListFilter]:
    """The filters `user` may apply."""
    return [f for f in _filters.values() if f.allowed(user)]
