"""An object type's property definitions, loaded once per write or page, with access rules.

`Schema` answers the questions every write and every read asks: which properties exist, how
each value is coerced, and which of them a given user may see or edit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from crm.models import ObjectType, Property, PropertyOption, SyncPropertyConfig
from crm.values import PropertySpec

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser

SENSITIVE_PERMISSION = "crm.view_sensitive_values"
# Sync properties copying sync properties: how far option labels are followed.
MAX_SYNC_CHAIN = 5


@dataclass
class PropertyAccess:
    """Who may see which properties of an object type: all a read of records needs to know.

    Loaded on its own (`load_property_access`, one query of three columns) for the records
    list, which needs no types or options, or as part of a `Schema`.
    """

    names: list[str]
    sensitive: frozenset[str] = frozenset()
    restricted: frozenset[str] = frozenset()
    restricted_user_ids: dict[str, set[int]] = field(default_factory=dict)
    restricted_group_ids: dict[str, set[int]] = field(default_factory=dict)

    def can_view(self, user: User | None, name: str) -> bool:
        """May this user see the property's values? `None` is Concord itself."""
        if user is None or getattr(user, "is_superuser", False):
            return True
        if name in self.sensitive and not user.has_perm(SENSITIVE_PERMISSION):
            return False
        if name in self.restricted:
            return self._in_restriction(user, name)
        return True

    def visible_names(self, user: User | None) -> list[str]:
        return [name for name in self.names if self.can_view(user, name)]

    def _in_restriction(self, user: User, name: str) -> bool:
        if user.pk in self.restricted_user_ids.get(name, set()):
            return True
        group_ids = _user_group_ids(user)
        return bool(group_ids & self.restricted_group_ids.get(name, set()))


@dataclass
class Schema:
    object_type: ObjectType
    properties: dict[str, Property]
    specs: dict[str, PropertySpec]
    access: PropertyAccess

    def can_view(self, user: User | None, name: str) -> bool:
        """May this user see the property's values? `None` is Concord itself."""
        return self.access.can_view(user, name)

    def can_edit(self, user: User | None, name: str) -> bool:
        return self.can_view(user, name)

    def visible_names(self, user: User | None) -> list[str]:
        return self.access.visible_names(user)


def _user_group_ids(user: User) -> set[int]:
    # Cached on the user object: one query per request, however many properties are checked.
    cached = getattr(user, "_concord_group_ids", None)
    if cached is None:
        cached = set(user.groups.values_list("pk", flat=True)) if user.pk else set()
        user._concord_group_ids = cached
    return cached


def load_schema(
    object_type: ObjectType,
    *,
    names: Collection[str] | None = None,
    access: PropertyAccess | None = None,
) -> Schema:
    """Load every property of the object type with its options and restrictions.

    With `names`, only those properties (a list filtered on two properties needs neither the
    other definitions nor their options), and options only for the types that have them;
    `access`, when the caller loaded it already, is used instead of being read again. Such a
    schema knows just those properties: a property outside `names` is unknown to it.
    """
    options = Prefetch("options", queryset=PropertyOption.objects.order_by("display_order", "pk"))
    if names is None:
        props = list(Property.objects.filter(object_type=object_type).prefetch_related(options))
    else:
        props = list(Property.objects.filter(object_type=object_type, name__in=set(names)))
        prefetch_related_objects([p for p in props if p.has_options], options)
    specs = {
        p.name: PropertySpec(
            name=p.name,
            type=p.type,
            options=frozenset(o.value for o in p.options.all()) if p.has_options else frozenset(),
        )
        for p in props
    }
    return Schema(
        object_type=object_type,
        properties={p.name: p for p in props},
        specs=specs,
        access=access
        if access is not None
        else _access([(p.pk, p.name, p.sensitive, p.restricted) for p in props]),
    )


def load_property_access(object_type: ObjectType) -> PropertyAccess:
    """Load who may see which property of the object type, and nothing else."""
    return _access(
        Property.objects.filter(object_type=object_type).values_list(
            "pk", "name", "sensitive", "restricted"
        )
    )


def load_object_type_with_access(name: str) -> tuple[ObjectType, PropertyAccess]:
    """The object type named `name` and who may see which of its properties, the records list's
    first questions on every request: one raw query on PostgreSQL (the ORM's compiling and
    decoding of two queries cost the list a millisecond), two elsewhere. Raises
    ObjectType.DoesNotExist when there is no such type."""
    if connection.vendor != "postgresql":
        object_type = ObjectType.objects.get(name=name)
        return object_type, load_property_access(object_type)
    types, properties = ObjectType._meta.db_table, Property._meta.db_table
    # The rows in Property's own order within a type, as load_property_access reads them.
    sql = (
        "SELECT t.*, COALESCE((SELECT json_agg(json_build_array(p.id, p.name, p.sensitive, "
        'p.restricted) ORDER BY p."group", p.display_order, p.name) '
        f"FROM {properties} AS p WHERE p.object_type_id = t.id), '[]') AS access_rows "
        f"FROM {types} AS t WHERE t.name = %s"
    )
    found = list(ObjectType.objects.raw(sql, [name]))
    if not found:
        raise ObjectType.DoesNotExist(f"no object type {name!r}")
    object_type = found[0]
    return object_type, _access(object_type.access_rows)


def visible_property_ids(user: User | None, properties: QuerySet[Property]) -> set[int]:
    """The ids of these properties (of any object types) the user may see, by the rules of
    PropertyAccess.can_view: two queries more at most, whatever the number of object types."""
    rows = [
        (pk, str(pk), s, r) for pk, s, r in properties.values_list("pk", "sensitive", "restricted")
    ]
    access = _access(rows)  # keyed by id: properties of several types share names
    return {pk for pk, key, _, _ in rows if access.can_view(user, key)}


def _access(rows) -> PropertyAccess:
    """The access rules of properties given as (pk, name, sensitive, restricted) rows; their
    restrictions' users and groups are read only when some property is restricted."""
    rows = list(rows)
    access = PropertyAccess(
        names=[name for _, name, _, _ in rows],
        sensitive=frozenset(name for _, name, sensitive, _ in rows if sensitive),
        restricted=frozenset(name for _, name, _, restricted in rows if restricted),
    )
    restricted_names = {pk: name for pk, name, _, restricted in rows if restricted}
    if restricted_names:
        users = Property.restricted_users.through.objects.filter(
            property_id__in=restricted_names
        ).values_list("property_id", "user_id")
        groups = Property.restricted_groups.through.objects.filter(
            property_id__in=restricted_names
        ).values_list("property_id", "group_id")
        for pk, user_id in users:
            access.restricted_user_ids.setdefault(restricted_names[pk], set()).add(user_id)
        for pk, group_id in groups:
            access.restricted_group_ids.setdefault(restricted_names[pk], set()).add(group_id)
    return access


# Advisory lock keys (PostgreSQL): 0x0C0C serialises writers of one object type's unique
# values (crm.services.record_uniqueness); 0x0C0D holds an object type's schema steady under
# writers.
SCHEMA_LOCK_KEY = 0x0C0D


def load_schema_for_write(object_type: ObjectType) -> Schema:
    """Load the schema inside a writing transaction, holding it steady until the commit.

    Writers share the lock; a schema change that tightens what writers must check (a property
    becoming unique) takes it exclusively, so it waits for every writer that loaded the old
    schema, and no writer loads the schema again until the change commits. Otherwise a writer
    holding the old schema could insert a duplicate just after the check for duplicates.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, %s)", [SCHEMA_LOCK_KEY, object_type.pk]
            )
    return load_schema(object_type)


def lock_schema_for_change(object_type: ObjectType) -> None:
    """Wait for the object type's writers to commit and keep new ones out until this commits."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [SCHEMA_LOCK_KEY, object_type.pk]
            )


def option_labels(prop: Property) -> dict[str, str]:
    """Option value → label of a dropdown or checkboxes property, for showing values to people.

    A sync property holds its source's values, so it shows its source's labels (following a
    sync property that copies another one).
    """
    for _ in range(MAX_SYNC_CHAIN):
        if not prop.is_sync:
            break
        config = (
            SyncPropertyConfig.objects.select_related("source_property")
            .filter(property=prop)
            .first()
        )
        if config is None:
            return {}
        prop = config.source_property
    if not prop.has_options:
        return {}
    return {option.value: option.label for option in prop.options.all()}
