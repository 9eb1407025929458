"""Admin change lists over tables of millions of rows: keyset pages and estimated counts.

Django's change list counts every matching row and pages with OFFSET, both linear in the table:
at a million sync errors a page took more than a second. `KeysetPagedAdmin` keeps Django's
list, filters, search and sorting, and changes two things:

- Counts: PostgreSQL's planner estimate (EXPLAIN) when it is above ESTIMATE_ABOVE rows, shown as
  "about N"; an exact COUNT below it, and on other databases.
- Pages in the default order (a non-null column, then the primary key, as the model's ordering
  says) are keyset pages: "next" and "previous" links carry the edge row's id (`after` /
  `before`) and each page reads one index range, however deep. Another sort (a column header)
  falls back to Django's numbered pages, still with the estimated count.
"""

from __future__ import annotations

import json
from functools import cached_property

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ALL_VAR, ORDER_VAR, ChangeList
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet

from config.bounds import parse_id

AFTER_VAR = "after"
BEFORE_VAR = "before"
CURSOR_VARS = (AFTER_VAR, BEFORE_VAR)
# Below this many estimated rows an exact count costs little and reads better.
ESTIMATE_ABOVE = 10_000


def estimated_count(queryset: QuerySet) -> tuple[int, bool]:
    """How many rows the queryset has, and whether that is the planner's estimate."""
    connection = connections[queryset.db]
    if connection.vendor == "postgresql":
        estimate = _planner_rows(queryset)
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            return estimate, True
    return queryset.count(), False


def _planner_rows(queryset: QuerySet) -> int | None:
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing: counted exactly (no query)
        return None
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Django's paginator with `estimated_count` for its count."""

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        return estimated_count(self.object_list)

    @cached_property
    def count(self) -> int:
        return self._counted[0]

    @property
    def count_is_estimate(self) -> bool:
        return self._counted[1]


class KeysetChangeList(ChangeList):
    """A change list that pages its default order by keyset (see the module's docstring)."""

    keyset = False  # True once a keyset page is read (the pagination template asks)
    keyset_previous_url = ""
    keyset_next_url = ""

    def __init__(self, request, *args, **kwargs):
        self.cursor = self._cursor(request)
        super().__init__(request, *args, **kwargs)

    @staticmethod
    def _cursor(request) -> tuple[str, int] | None:
        for name in CURSOR_VARS:
            raw = request.GET.get(name)
            if raw is not None:
                pk = parse_id(raw)
                if pk is None:
                    raise IncorrectLookupParameters(f"{name} must be an id")
                return name, pk
        return None

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        for name in CURSOR_VARS:
            lookup_params.pop(name, None)
        return lookup_params

    def get_query_string(self, new_params=None, remove=None):
        # A filter, sort or search link starts again at the first page.
        return super().get_query_string(
            {**dict.fromkeys(CURSOR_VARS), **(new_params or {})}, remove
        )

    @property
    def keyset_field(self) -> str | None:
        """The column the default order pages by, or None when another order is asked for."""
        if ORDER_VAR in self.params or (self.show_all and ALL_VAR in self.params):
            return None
        ordering = list(self._get_default_ordering())
        if len(ordering) != 2 or ordering[1] not in ("pk", "-pk"):
            return None
        field, pk = ordering
        if not isinstance(field, str) or field.startswith("-") != pk.startswith("-"):
            return None
        return field

    def get_results(self, request):
        field = self.keyset_field
        if field is None:
            if self.cursor is not None:
                raise IncorrectLookupParameters("keyset pages are for the default order only")
            super().get_results(request)
        else:
            self._keyset_results(request, field)
        self.result_count_is_estimate = getattr(self.paginator, "count_is_estimate", False)

    def _keyset_results(self, request, field: str) -> None:
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        size = self.list_per_page
        direction, pk = self.cursor or (AFTER_VAR, None)
        edge = None
        if pk is not None:
            name = field.lstrip("-")
            edge = self.root_queryset.model._default_manager.values(name, "pk").filter(pk=pk)
            edge = edge.first()
        queryset = self.queryset
        if edge is not None:
            queryset = queryset.filter(_beyond(field, edge, forward=direction == AFTER_VAR))
        if direction == BEFORE_VAR and edge is not None:
            rows = list(queryset.reverse()[: size + 1])
            more_before, rows = len(rows) > size, rows[:size][::-1]
            more_after = True
        else:
            rows = list(queryset[: size + 1])
            more_after, rows = len(rows) > size, rows[:size]
            more_before = edge is not None
        if rows and more_before:
            self.keyset_previous_url = self.get_query_string({BEFORE_VAR: rows[0].pk})
        if rows and more_after:
            self.keyset_next_url = self.get_query_string({AFTER_VAR: rows[-1].pk})
        full_result_count = (
            self.root_queryset.count() if self.model_admin.show_full_result_count else None
        )
        self.result_count = paginator.count
        self.show_full_result_count = self.model_admin.show_full_result_count
        self.show_admin_actions = not self.show_full_result_count or bool(full_result_count)
        self.full_result_count = full_result_count
        self.result_list = rows
        self.can_show_all = False
        self.multi_page = bool(self.keyset_previous_url or self.keyset_next_url)
        self.paginator = paginator
        self.keyset = True


def _beyond(field: str, edge: dict, *, forward: bool) -> Q:
    """The rows after the edge row in the order `field, pk` (or before it)."""
    name = field.lstrip("-")
    descending = field.startswith("-")
    op = "lt" if descending == forward else "gt"
    value = edge[name]
    return Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"pk__{op}": edge["pk"]})


class KeysetPagedAdmin:
    """ModelAdmin mixin: the change list pages by keyset and counts by estimate."""

    paginator = EstimatedCountPaginator
    # Once counting and offsets are gone, rendering the rows is most of a page's time; a keyset
    # page is cheap to turn, so pages are half Django's default.
    list_per_page = 50

    def get_changelist(self, request, **kwargs):
        return KeysetChangeList
