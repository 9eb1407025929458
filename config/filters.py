"""The API's filter backend: django-filter, plus the bounds a database can hold."""

from __future__ import annotations

import datetime as dt

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from config.bounds import bound_problem


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend whose filters refuse integers past 64 bits and datetimes that
    overflow in UTC: a 400 naming the parameter instead of OverflowError on SQLite. Datetimes
    reach the database in UTC: PostgreSQL refuses offsets past ±15:59 that ISO 8601 allows."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not _asks_for_filtering(request, filterset_class):
            # Every filter would pass the queryset through: building the filterset (a deep copy
            # of its filters and a form class made anew) cost a list a millisecond for nothing.
            return queryset
        filterset = self.get_filterset(request, queryset, view)
        if filterset.is_valid():
            for name, value in list(filterset.form.cleaned_data.items()):
                if problem := bound_problem(value):
                    filterset.form.add_error(name, problem)
        if not filterset.is_valid():
            errors = {name: list(messages) for name, messages in filterset.errors.items()}
            summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items())
            raise ValidationError({"detail": f"Invalid filters. {summary}", "errors": errors})
        cleaned = filterset.form.cleaned_data
        for name, value in cleaned.items():
            cleaned[name] = _in_utc(value)
        return filterset.qs


def _asks_for_filtering(request, filterset_class) -> bool:
    """Does the request name one of the filterset's parameters, or must its form be checked
    anyway (a required filter)? A filter's parameters are its name, or its name with a suffix
    for the parts of a range ("created_after", "amount_min")."""
    filters = filterset_class.base_filters
    if any(f.extra.get("required") for f in filters.values()):
        return True
    prefixes = tuple(f"{name}_" for name in filters)
    return any(key in filters or key.startswith(prefixes) for key in request.query_params)


def _in_utc(value: object) -> object:
    """An aware datetime (or a range or list of them) in UTC; anything else as it is."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)  # bound_problem refused those that overflow
    if isinstance(value, slice):
        return slice(_in_utc(value.start), _in_utc(value.stop), value.step)
    if isinstance(value, list | tuple):
        return type(value)(_in_utc(v) for v in value)
    return value
