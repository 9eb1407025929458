"""Reads of the CRM: ordered, joined querysets and lookups. Nothing here writes."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from crm.errors import FilterError
from crm.models import (
    Association,
    AssociationDefinition,
    AuditEvent,
    ObjectType,
    Owner,
    Property,
    Record,
    SavedView,
)
from crm.owners import OWNER_PARAM, OWNER_PROPERTY
from crm.schema import Schema, visible_property_ids
from crm.usage import PropertyUsage
from crm.values import InvalidValue, coerce_value
from crm.view_queries import filtered_property_names, property_param


def get_object_type(*, name: str) -> ObjectType:
    return ObjectType.objects.get(name=name)


def list_object_types() -> QuerySet[ObjectType]:
    return ObjectType.objects.order_by("is_custom", "pk")


def list_records(*, object_type: ObjectType, archived: bool = False) -> QuerySet[Record]:
    """Active records (or those in the recycle bin) of one object type, newest first."""
    return (
        Record.objects.filter(object_type=object_type, archived_at__isnull=not archived)
        .select_related("object_type")
        .order_by("-pk")
    )


def filter_records_by_properties(
    queryset: QuerySet[Record], *, schema: Schema, filters: Mapping[str, str], user=None
) -> QuerySet[Record]:
    """Keep records whose properties equal the given values (coerced by type).

    Raises FilterError naming the property for an unknown property, a value of the wrong type, or a
    property the user may not see (filtering on it would leak its values).
    """
    for name, raw in filters.items():
        spec = schema.specs.get(name)
        if spec is None or not schema.can_view(user, name):
            raise FilterError(f"unknown property {name!r} of {schema.object_type.name}", name=name)
        if raw == "":
            queryset = queryset.filter(**{f"properties__{name}__isnull": True})
            continue
        try:
            value = coerce_value(spec, raw)
        except InvalidValue as exc:
            raise FilterError(f"filter on {name}: {exc}", name=name) from None
        if spec.type == "multiselect":
            for item in value:
                queryset = _has_option(queryset, name, item)
        else:
            # Key equality: the form the email expression index serves.
            queryset = queryset.filter(**{f"properties__{name}": value})
    return queryset


def _has_option(queryset: QuerySet[Record], name: str, item: str) -> QuerySet[Record]:
    if connection.vendor == "postgresql":
        return queryset.filter(**{f"properties__{name}__contains": [item]})
    # SQLite has no JSON containment: match the quoted item inside the stored array.
    return queryset.filter(**{f"properties__{name}__icontains": f'"{item}"'})


def search_records(
    queryset: QuerySet[Record], *, object_type: ObjectType, term: str
) -> QuerySet[Record]:
    """The admin search box: an email matches exactly (indexed), other terms by prefix."""
    term = term.strip()
    if not term:
        return queryset
    if "@" in term:
        return queryset.filter(properties__email=term.lower())
    if term.isdigit():
        return queryset.filter(pk=int(term))
    condition = Q()
    for name in object_type.search_properties or [object_type.primary_property]:
        if name:
            condition |= Q(**{f"properties__{name}__istartswith": term})
    return queryset.filter(condition) if condition else queryset.none()


def list_associations(*, record: Record | None = None) -> QuerySet[Association]:
    """Associations, optionally those touching one record, with both ends and labels joined."""
    queryset = Association.objects.select_related(
        "definition__from_object_type",
        "definition__to_object_type",
        "from_record__object_type",
        "to_record__object_type",
    ).order_by("-pk")
    if record is not None:
        queryset = queryset.filter(Q(from_record=record) | Q(to_record=record))
    return queryset


def list_association_definitions() -> QuerySet[AssociationDefinition]:
    return AssociationDefinition.objects.select_related("from_object_type", "to_object_type")


def list_audit_events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor", "object_type").order_by("-at", "-pk")


def estimate_count(queryset: QuerySet) -> int:
    """A row count without a full COUNT(*): the planner's estimate on PostgreSQL.

    Small results are counted exactly; only when the planner expects many rows is its estimate
    returned, since counting a million rows costs more than the page itself.
    """
    if connection.vendor != "postgresql":
        return queryset.count()
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # e.g. .none() from a filter naming nothing: 0, and no query
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    return queryset.count() if estimate < 10_000 else estimate


def list_saved_views(*, owner, object_type: ObjectType | None = None) -> QuerySet[SavedView]:
    """A user's saved views (of one object type), by name."""
    queryset = SavedView.objects.filter(owner=owner).select_related("object_type")
    if object_type is not None:
        queryset = queryset.filter(object_type=object_type)
    return queryset.order_by("object_type", "name")


def saved_view_usages(prop: Property) -> list[PropertyUsage]:
    """The "Used in" provider: saved views filtering on `prop` (any owner's, each owner's own)."""
    mentions = Q(query__contains=property_param(prop.name) + "=")
    if prop.name == OWNER_PROPERTY and prop.type == Property.Type.OWNER:
        mentions |= Q(query__contains=OWNER_PARAM + "=")
    candidates = SavedView.objects.filter(mentions, object_type_id=prop.object_type_id).order_by(
        "name", "pk"
    )
    return [
        PropertyUsage(
            kind="saved_view",
            label=f"Saved view “{view.name}”",
            url=reverse("admin:crm_savedview_change", args=[view.pk]),
            owner_id=view.owner_id,
        )
        for view in candidates
        if prop.name in filtered_property_names(view.query)
    ]


def list_owners(*, active: bool | None = None, email: str | None = None) -> QuerySet[Owner]:
    """Owners by name, optionally only the active (or inactive) ones, or the one of an email."""
    queryset = Owner.objects.select_related("user").order_by("name", "email", "pk")
    if active is not None:
        queryset = queryset.filter(is_active=active)
    if email is not None:
        queryset = queryset.filter(email=email.strip().lower())
    return queryset


def get_owner_of_user(user) -> Owner | None:
    """The owner a Concord login is, if any ("my records")."""
    if user is None or not getattr(user, "pk", None):
        return None
    return Owner.objects.filter(user_id=user.pk).first()


def count_owned_records(owner_ids: list[int], user) -> dict[int, int]:
    """How many active records each of these owners owns, counting only the object types whose
    owner property `user` may see (a count must not tell what a restricted property hides)."""
    if not owner_ids:
        return {}
    owner_properties = Property.objects.filter(name=OWNER_PROPERTY, type=Property.Type.OWNER)
    visible = visible_property_ids(user, owner_properties)
    type_ids = owner_properties.filter(pk__in=visible).values("object_type_id")
    rows = (
        Record.objects.filter(
            archived_at__isnull=True,
            object_type_id__in=type_ids,
            properties__owner__in=owner_ids,
        )
        .values("properties__owner")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["properties__owner"]: row["n"] for row in rows}
