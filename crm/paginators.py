"""Pagination for tables with millions of rows."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator

from crm.selectors import estimate_count


class EstimatedCountPaginator(Paginator):
    """Uses the planner's row estimate instead of COUNT(*) when the result is large."""

    @cached_property
    def count(self) -> int:
        return estimate_count(self.object_list)
