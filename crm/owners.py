"""Owner values of records: which owner ids may be written, and owners' names for display.

A record's owner property holds an owner's id (crm.values coerces the format). Whether that id
names an active owner is asked once per batch of values, never once per record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from crm.models import Owner, Property, Record

if TYPE_CHECKING:
    from crm.schema import Schema

INACTIVE_SUFFIX = " (inactive)"


def active_owner_ids(ids: Iterable[int]) -> set[int]:
    """The ids among `ids` that name an active owner (one query, none for no ids)."""
    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return set()
    return set(Owner.objects.filter(pk__in=wanted, is_active=True).values_list("pk", flat=True))


def existing_owner_ids(ids: Iterable[int]) -> set[int]:
    """The ids among `ids` that name an owner, active or not (one query, none for no ids)."""
    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return set()
    return set(Owner.objects.filter(pk__in=wanted).values_list("pk", flat=True))


def unknown_owner_refusal(owner_id: object) -> str:
    """Why an owner value that need not be active was refused: it names no owner at all."""
    return f"no owner with id {owner_id}"


def owner_refusal(owner_id: object) -> str:
    """Why an owner value was refused, in the words a form or an API answer shows."""
    return f"no active owner with id {owner_id}"


def owner_names(ids: Iterable[object] | None = None) -> dict[int, str]:
    """Owner id → name (inactive ones marked), for showing values; every owner without ids."""
    queryset = Owner.objects.all()
    if ids is not None:
        wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
        if not wanted:
            return {}
        queryset = queryset.filter(pk__in=wanted)
    rows = queryset.values_list("pk", "name", "email", "is_active")
    return {pk: owner_label(name, email, active) for pk, name, email, active in rows}


def owner_label(name: str, email: str, is_active: bool) -> str:
    """An owner as lists and choices name it; one who left is marked."""
    label = name or email
    return label if is_active else f"{label}{INACTIVE_SUFFIX}"


def show_owner(value: object, names: dict[int, str]) -> str:
    """An owner value as people read it: the owner's name, or the id of a deleted one."""
    if value is None or value == "":
        return ""
    return names.get(value, f"unknown owner #{value}") if isinstance(value, int) else str(value)


# The record list's owner filter (admin sidebar, saved views, API): `owner=<id>`, `owner=me`
# (the owner the viewing login is) and `owner=none` (records without an owner).
OWNER_PARAM = "owner"
OWNER_PROPERTY = "owner"
ME = "me"
NONE = "none"


def can_filter_by_owner(schema: Schema, user) -> bool:
    """Whether `user` may filter the object type's records by owner: it has an `owner` property
    of the owner type, which the user may see. The type is checked, not only the name: a
    property named `owner` of another type (made before owners existed, which migration 0010
    leaves alone) holds no owner ids, and comparing its text with an id would match nothing.
    """
    prop = schema.properties.get(OWNER_PROPERTY)
    return (
        prop is not None
        and prop.type == Property.Type.OWNER
        and schema.can_view(user, OWNER_PROPERTY)
    )


def parse_owner_filter(value: str) -> int | str:
    """An owner filter's value: an owner id, ME or NONE; InvalidOwnerFilter for anything else."""
    text = value.strip().lower()
    if text in (ME, NONE):
        return text
    if text.isascii() and text.isdecimal() and 0 < len(text) < 19 and int(text) > 0:
        return int(text)
    raise InvalidOwnerFilter(
        f"“{value}” is not an owner filter; give an owner id, “{ME}” or “{NONE}”."
    )


class InvalidOwnerFilter(ValueError):
    """An owner filter value that is neither an owner id, "me" nor "none"."""


def narrow_by_owner(queryset: QuerySet[Record], value: str, user) -> QuerySet[Record]:
    """Records of the owner the filter names; "me" for a login with no owner matches none."""
    wanted = parse_owner_filter(value)
    if wanted == NONE:
        return queryset.filter(**{f"properties__{OWNER_PROPERTY}__isnull": True})
    if wanted == ME:
        owner_id = (
            Owner.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
            if user is not None and user.pk
            else None
        )
        if owner_id is None:
            return queryset.none()
        wanted = owner_id
    return queryset.filter(**{f"properties__{OWNER_PROPERTY}": wanted})


def describe_owner_filter(value: str) -> str | None:
    """The owner filter's choice as people read it, or None when it names no owner."""
    try:
        wanted = parse_owner_filter(value)
    except InvalidOwnerFilter:
        return None
    if wanted == ME:
        return "My records"
    if wanted == NONE:
        return "No owner"
    return owner_names([wanted]).get(wanted)
