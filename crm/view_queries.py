"""The filter of a record list as a query string: what a saved view stores and reopens.

A view's query holds only what the admin record list understands, checked here before it is
saved so a saved view always reopens: `q` (the search box), `p_<property>` (a dropdown
property's option), `owner` (an owner id, `me` or `none`: crm.owners), `created_at__gte` /
`created_at__lt` (the date filter), `id__in` (chosen records) and the filters other apps
register (crm.record_filters, e.g. `sync_error`).
Ordering and paging are not part of a view; the object type is stored beside the query.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.utils.dateparse import parse_date, parse_datetime

from crm.errors import SavedViewError
from crm.models import ObjectType, Property
from crm.owners import OWNER_PARAM, OWNER_PROPERTY, can_filter_by_owner, describe_owner_filter
from crm.record_filters import get_record_filter
from crm.schema import Schema, load_schema, option_labels

PROPERTY_PREFIX = "p_"
SEARCH_PARAM = "q"
DATE_PARAMS = ("created_at__gte", "created_at__lt")
IDS_PARAM = "id__in"
MAX_IDS = 500
MAX_SEARCH = 200
MAX_QUERY = 4000
# Parts of a record list's address that are not its filter: dropped, never refused.
NOT_FILTERS = frozenset({"type", "o", "p", "e", "all", "view", "_facets"})


def property_param(name: str) -> str:
    return f"{PROPERTY_PREFIX}{name}"


def filter_part(params) -> str:
    """The filter of a record list's query parameters (a QueryDict), without paging or type."""
    return urlencode([(k, v) for k, v in params.items() if k not in NOT_FILTERS])


def filtered_property_names(query: str) -> list[str]:
    """The properties a stored query filters on (`p_<name>` keys, `owner`), for "Used in"."""
    names = []
    for key, _ in parse_qsl(query, keep_blank_values=True):
        if key.startswith(PROPERTY_PREFIX):
            names.append(key.removeprefix(PROPERTY_PREFIX))
        elif key == OWNER_PARAM:
            names.append(OWNER_PROPERTY)
    return names


def clean_view_query(
    *, object_type: ObjectType, query: str, user, schema: Schema | None = None
) -> str:
    """The query in its stored form (sorted, no paging), or SavedViewError saying what is wrong."""
    if len(query) > MAX_QUERY:
        raise SavedViewError(f"The filter is too long (at most {MAX_QUERY} characters).")
    schema = schema or load_schema(object_type)
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True)]
    seen: set[str] = set()
    kept = []
    for key, value in pairs:
        if key in NOT_FILTERS:
            continue
        if key in seen:
            raise SavedViewError(f"The filter “{key}” is given twice; keep one value.")
        seen.add(key)
        _check_param(key, value, object_type=object_type, schema=schema, user=user)
        kept.append((key, value))
    return urlencode(sorted(kept))


def _check_param(key: str, value: str, *, object_type: ObjectType, schema: Schema, user) -> None:
    if key == SEARCH_PARAM:
        if len(value) > MAX_SEARCH:
            raise SavedViewError(f"The search is too long (at most {MAX_SEARCH} characters).")
    elif key.startswith(PROPERTY_PREFIX):
        _check_property_filter(key.removeprefix(PROPERTY_PREFIX), value, schema=schema, user=user)
    elif key == OWNER_PARAM:
        _check_owner_filter(value, schema=schema, user=user)
    elif key in DATE_PARAMS:
        if not _is_date(value):
            raise SavedViewError(f"“{value}” is not a date for the filter “{key}”.")
    elif key == IDS_PARAM:
        ids = value.split(",")
        if not all(i.strip().isdigit() for i in ids):
            raise SavedViewError("The record ids of the filter must be whole numbers.")
        if len(ids) > MAX_IDS:
            raise SavedViewError(f"A view can name at most {MAX_IDS} records.")
    elif (record_filter := get_record_filter(key, user)) is not None:
        if record_filter.describe(value) is None:
            raise SavedViewError(f"The {record_filter.title} “{value}” does not exist.")
    else:
        raise SavedViewError(
            f"“{key}” is not a filter of the {object_type.label_plural.lower()} list."
        )


def _check_property_filter(name: str, value: str, *, schema: Schema, user) -> None:
    prop = schema.properties.get(name)
    if prop is None or not schema.can_view(user, name):
        raise SavedViewError(
            f"{schema.object_type.label_plural} have no property “{name}” to filter on."
        )
    if not is_filterable(prop):
        raise SavedViewError(
            f"The record list filters on dropdown properties only; “{prop.label}” is "
            f"{prop.get_type_display().lower()}."
        )
    if value not in option_labels(prop):
        raise SavedViewError(f"“{value}” is not an option of “{prop.label}”.")


def _check_owner_filter(value: str, *, schema: Schema, user) -> None:
    if not can_filter_by_owner(schema, user):
        raise SavedViewError(
            f"{schema.object_type.label_plural} have no property “owner” to filter on."
        )
    if describe_owner_filter(value) is None:
        raise SavedViewError(f"The owner “{value}” does not exist; give an owner, me or none.")


def is_filterable(prop: Property) -> bool:
    """The record list filters on dropdowns, and on sync properties copying a dropdown."""
    if prop.type == Property.Type.ENUMERATION:
        return True
    return prop.is_sync and bool(option_labels(prop))


def _is_date(value: str) -> bool:
    """A date or a date and time, as the admin's date filter writes them."""
    try:
        return parse_datetime(value) is not None or parse_date(value) is not None
    except ValueError:  # well formed but impossible, e.g. month 13
        return False
