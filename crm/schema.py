"""An object type's property definitions, loaded once per write or page, with access rules.

`Schema` answers the questions every write and every read asks: which properties exist, how
each value is coerced, and which of them a given user may see or edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Prefetch

from crm.models import ObjectType, Property, PropertyOption, SyncPropertyConfig
from crm.values import PropertySpec

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser

SENSITIVE_PERMISSION = "crm.view_sensitive_values"
# Sync properties copying sync properties: how far option labels are followed.
MAX_SYNC_CHAIN = 5


@dataclass
class Schema:
    object_type: ObjectType
    properties: dict[str, Property]
    specs: dict[str, PropertySpec]
    _restricted_user_ids: dict[str, set[int]] = field(default_factory=dict)
    _restricted_group_ids: dict[str, set[int]] = field(default_factory=dict)

    def can_view(self, user: User | None, name: str) -> bool:
        """May this user see the property's values? `None` is Concord itself."""
        prop = self.properties[name]
        if user is None or getattr(user, "is_superuser", False):
            return True
        if prop.sensitive and not user.has_perm(SENSITIVE_PERMISSION):
            return False
        if prop.restricted:
            return self._in_restriction(user, name)
        return True

    def can_edit(self, user: User | None, name: str) -> bool:
        return self.can_view(user, name)

    def visible_names(self, user: User | None) -> list[str]:
        return [name for name in self.properties if self.can_view(user, name)]

    def _in_restriction(self, user: User, name: str) -> bool:
        if user.pk in self._restricted_user_ids.get(name, set()):
            return True
        group_ids = _user_group_ids(user)
        return bool(group_ids & self._restricted_group_ids.get(name, set()))


def _user_group_ids(user: User) -> set[int]:
    # Cached on the user object: one query per request, however many properties are checked.
    cached = getattr(user, "_concord_group_ids", None)
    if cached is None:
        cached = set(user.groups.values_list("pk", flat=True)) if user.pk else set()
        user._concord_group_ids = cached
    return cached


def load_schema(object_type: ObjectType) -> Schema:
    """Load every property of the object type with its options and restrictions."""
    props = list(
        Property.objects.filter(object_type=object_type).prefetch_related(
            Prefetch("options", queryset=PropertyOption.objects.order_by("display_order", "pk"))
        )
    )
    properties = {p.name: p for p in props}
    specs = {
        p.name: PropertySpec(
            name=p.name,
            type=p.type,
            options=frozenset(o.value for o in p.options.all()) if p.has_options else frozenset(),
        )
        for p in props
    }
    schema = Schema(object_type=object_type, properties=properties, specs=specs)
    restricted = [p for p in props if p.restricted]
    if restricted:
        users = Property.restricted_users.through.objects.filter(
            property__in=restricted
        ).values_list("property__name", "user_id")
        groups = Property.restricted_groups.through.objects.filter(
            property__in=restricted
        ).values_list("property__name", "group_id")
        for name, user_id in users:
            schema._restricted_user_ids.setdefault(name, set()).add(user_id)
        for name, group_id in groups:
            schema._restricted_group_ids.setdefault(name, set()).add(group_id)
    return schema


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
