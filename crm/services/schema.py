"""Schema writes: custom object types, properties and their options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from crm import sources
from crm.audit import record_audit, record_property_audit
from crm.errors import PropertyInUseError, SchemaError
from crm.models import NAME_VALIDATOR, ObjectType, Property, PropertyOption, Record
from crm.schema import lock_schema_for_change
from crm.services.property_values import count_option_holders, replace_option_values
from crm.sync_properties import services as sync_services
from crm.usage import list_property_usages

EDITABLE_PROPERTY_FIELDS = (
    "label",
    "description",
    "group",
    "display_order",
    "unique",
    "sensitive",
    "read_only",
    "restricted",
)
# How many duplicate values or options in use an answer lists; the count says how many more.
SHOWN = 20


@transaction.atomic
def create_object_type(
    *,
    name: str,
    label_singular: str,
    label_plural: str,
    primary_property_label: str = "Name",
    actor=None,
    source: str = sources.USER,
) -> ObjectType:
    """Create a custom object type with a text property `name` that names its records."""
    _validate_name(name)
    if ObjectType.objects.filter(name=name).exists():
        raise SchemaError(f"an object type named {name!r} already exists", field="name")
    object_type = ObjectType.objects.create(
        name=name,
        label_singular=label_singular,
        label_plural=label_plural,
        is_custom=True,
        primary_property="name",
        list_properties=["name", "owner"],
        search_properties=["name"],
    )
    Property.objects.create(
        object_type=object_type,
        name="name",
        label=primary_property_label,
        type=Property.Type.TEXT,
        is_builtin=True,
    )
    Property.objects.create(
        object_type=object_type,
        name="owner",
        label="Owner",
        type=Property.Type.OWNER,
        group="salesinformation",
        display_order=900,
        is_builtin=True,
    )
    record_audit(
        verb="create_object_type",
        source=source,
        actor=actor,
        object_type=object_type,
        target_repr=name,
    )
    return object_type


@transaction.atomic
def create_property(
    *,
    object_type: ObjectType,
    name: str,
    label: str,
    type: str = Property.Type.TEXT,
    options: Sequence[Mapping] = (),
    sync: Mapping | None = None,
    actor=None,
    source: str = sources.USER,
    **flags,
) -> Property:
    """Add a typed property to an object type.

    A "property sync" property takes `sync`: {source_object_type, source_property,
    association_labels ("all" or label names) or definitions (ids), criterion}; it is always
    read-only, and every existing record is backfilled by a worker.
    """
    _validate_name(name)
    if type not in Property.Type.values:
        raise SchemaError(
            f"unknown type {type!r}; use one of {', '.join(Property.Type.values)}", field="type"
        )
    if Property.objects.filter(object_type=object_type, name=name).exists():
        raise SchemaError(f"{object_type.name} already has a property named {name!r}", field="name")
    unknown = set(flags) - set(EDITABLE_PROPERTY_FIELDS)
    if unknown:
        raise SchemaError(f"unknown settings: {', '.join(sorted(unknown))}")
    is_sync = type == Property.Type.PROPERTY_SYNC
    sync_settings = None
    if is_sync:
        if not isinstance(sync, Mapping):
            raise SchemaError(
                "a property sync property needs `sync`: the source object type, source "
                "property, association labels and criterion",
                field="sync",
            )
        sync_settings = _check_sync(object_type, sync, prop=None)
        if flags.get("read_only") is False or flags.get("unique"):
            raise SchemaError(
                "a sync property is always read-only and cannot be unique", field="read_only"
            )
        # Copies of sensitive values are as sensitive as the original.
        flags = {**flags, "read_only": True, "unique": False}
        flags["sensitive"] = flags.get("sensitive") or sync_settings.source_property.sensitive
    elif sync:
        raise SchemaError("only a property sync property takes `sync`", field="sync")
    prop = Property.objects.create(
        object_type=object_type, name=name, label=label, type=type, **flags
    )
    if options or prop.has_options:
        set_property_options(prop=prop, options=options, actor=actor, source=source, audit=False)
    record_audit(
        verb="create_property",
        source=source,
        actor=actor,
        object_type=object_type,
        target_id=prop.pk,
        target_repr=str(prop),
        detail={"type": type},
    )
    if is_sync:
        sync_services.configure_sync_property(
            prop=prop, settings=sync_settings, actor=actor, source=source
        )
    return prop


def _check_sync(object_type: ObjectType, sync: Mapping, *, prop: Property | None):
    known = {
        "source_object_type",
        "source_property",
        "association_labels",
        "definitions",
        "criterion",
    }
    unknown = set(sync) - known
    if unknown:
        raise SchemaError(f"unknown sync settings: {', '.join(sorted(unknown))}", field="sync")
    return sync_services.check_sync_settings(
        target_object_type=object_type,
        source_object_type=sync.get("source_object_type"),
        source_property=sync.get("source_property"),
        association_labels=sync.get("association_labels", sync_services.ALL_LABELS),
        definitions=sync.get("definitions"),
        criterion=sync.get("criterion") or "first_created",
        prop=prop,
    )


@transaction.atomic
def update_property(
    *,
    prop: Property,
    changes: Mapping[str, object],
    options: Sequence[Mapping] | None = None,
    sync: Mapping | None = None,
    replace_with: Mapping[str, str | None] | None = None,
    actor=None,
    source: str = sources.USER,
) -> Property:
    """Change a property's label, flags, options or sync settings; its name and type are fixed.

    New sync settings recompute every target, like a new sync property. Options that records
    hold are removed only with `replace_with` (see set_property_options).
    """
    if replace_with is not None and options is None:
        raise SchemaError("replace_with goes with the new list of options", field="replace_with")
    for key in changes:
        if key in ("name", "type") and changes[key] != getattr(prop, key):
            raise SchemaError(
                f"a property's {key} cannot change once created; create a new "
                "property and copy the values instead",
                field=key,
            )
        if key not in (*EDITABLE_PROPERTY_FIELDS, "name", "type"):
            raise SchemaError(f"unknown setting {key!r}", field=key)
    if "unique" in changes and not isinstance(changes["unique"], bool):
        raise SchemaError("unique must be true or false", field="unique")
    if changes.get("unique") and not prop.unique and not prop.is_sync:
        # Writers that loaded the schema before this change finish first, and later ones
        # see the property as unique: no duplicate can slip in behind the check.
        lock_schema_for_change(prop.object_type)
        _check_values_unique(prop)
    if changes.get("unique") is False and prop.unique and prop.is_identity:
        raise SchemaError(
            f"{prop} identifies records (upserts match records on it), so it stays unique",
            field="unique",
        )
    if prop.is_sync and (changes.get("read_only") is False or changes.get("unique")):
        raise SchemaError(
            "a sync property is always read-only and cannot be unique",
            field="read_only" if changes.get("read_only") is False else "unique",
        )
    if changes.get("restricted") and not prop.restricted and prop.sync_readers.exists():
        readers = ", ".join(str(c.property) for c in prop.sync_readers.select_related("property"))
        raise SchemaError(
            f"{prop} is copied by sync properties ({readers}), which cannot copy from a "
            "restricted property",
            field="restricted",
        )
    sync_settings = None
    if sync is not None:
        if not prop.is_sync:
            raise SchemaError("only a property sync property takes `sync`", field="sync")
        sync_settings = _check_sync(prop.object_type, sync, prop=prop)
    for key, value in changes.items():
        setattr(prop, key, value)
    prop.save()
    if options is not None:
        set_property_options(
            prop=prop,
            options=options,
            replace_with=replace_with,
            actor=actor,
            source=source,
            audit=False,
        )
    if sync_settings is not None:
        sync_services.configure_sync_property(
            prop=prop, settings=sync_settings, actor=actor, source=source
        )
    record_property_audit(
        prop=prop,
        verb="update_property",
        source=source,
        actor=actor,
        detail={"changed": sorted([*changes, *(["sync"] if sync is not None else [])])},
    )
    return prop


@transaction.atomic
def set_property_options(
    *,
    prop: Property,
    options: Sequence[Mapping],
    replace_with: Mapping[str, str | None] | None = None,
    actor=None,
    source: str = sources.USER,
    audit: bool = True,
) -> list[PropertyOption]:
    """Replace the options of an enumeration or multi-select property, keeping their order.

    An option that records still hold is removed only if `replace_with` says which remaining
    option those records move to ({removed value: kept value, or None to clear it}); the move
    is one set-based write, audited per record, in this transaction.
    """
    if replace_with is not None and not prop.has_options:
        raise SchemaError(
            f"a {prop.get_type_display()} property has no options to replace",
            field="replace_with",
        )
    if not prop.has_options:
        if options:
            raise SchemaError(
                f"a {prop.get_type_display()} property has no options", field="options"
            )
        return []
    cleaned: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    for position, option in enumerate(options):
        value = str(option.get("value", "")).strip() if isinstance(option, Mapping) else ""
        if not value:
            raise SchemaError(f"option {position + 1} has no value", field="options")
        if value in seen:
            raise SchemaError(f"option value {value!r} appears twice", field="options")
        seen.add(value)
        cleaned.append((value, str(option.get("label") or value), bool(option.get("hidden"))))
    if not cleaned:
        raise SchemaError(
            "a dropdown or checkbox property needs at least one option", field="options"
        )
    _move_removed_options(prop, seen, replace_with or {}, actor, source)
    PropertyOption.objects.filter(property=prop).exclude(value__in=seen).delete()
    existing = {o.value: o for o in PropertyOption.objects.filter(property=prop)}
    result = []
    for order, (value, label, hidden) in enumerate(cleaned):
        option = existing.get(value) or PropertyOption(property=prop, value=value)
        option.label, option.hidden, option.display_order = label, hidden, order
        option.save()
        result.append(option)
    if audit:
        record_property_audit(
            prop=prop,
            verb="update_property",
            source=source,
            actor=actor,
            detail={"changed": ["options"]},
        )
    return result


def _move_removed_options(
    prop: Property,
    kept: set[str],
    replace_with: Mapping[str, str | None],
    actor,
    source: str,
) -> None:
    """Refuse to drop options that records hold, unless told where their records move."""
    if not isinstance(replace_with, Mapping):
        raise SchemaError(
            "replace_with must map removed options to kept ones", field="replace_with"
        )
    removed = set()
    if prop.pk is not None:
        removed = set(
            PropertyOption.objects.filter(property=prop)
            .exclude(value__in=kept)
            .values_list("value", flat=True)
        )
    for old, new in replace_with.items():
        if old not in removed:
            raise SchemaError(
                f"{old!r} is not an option this change removes, so nothing moves from it",
                field="replace_with",
            )
        if new is not None and (not isinstance(new, str) or new not in kept):
            raise SchemaError(
                f"records holding {old!r} can move only to a kept option, not {new!r}; "
                f"kept: {', '.join(sorted(kept))}",
                field="replace_with",
            )
    if not removed:
        return
    # Writers that loaded the old options finish first; later ones see the new options.
    lock_schema_for_change(prop.object_type)
    held = count_option_holders(prop=prop, values=sorted(removed))
    unplaced = {value: n for value, n in held.items() if value not in replace_with}
    if unplaced:
        in_use = [
            {"value": value, "records": n}
            for value, n in sorted(unplaced.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        listing = ", ".join(f"{o['value']!r} ({o['records']} records)" for o in in_use[:SHOWN])
        raise SchemaError(
            f"options of {prop} that records still hold cannot be removed: {listing}. Say "
            "which option those records move to (replace_with), change them first, or keep "
            "the option hidden.",
            field="options",
            extra={"options_in_use": in_use},
        )
    moving = {old: new for old, new in replace_with.items() if held.get(old)}
    if not moving:
        return
    moved = replace_option_values(prop=prop, replacements=moving, actor=actor, source=source)
    record_property_audit(
        prop=prop,
        verb="replace_options",
        source=source,
        actor=actor,
        detail={"replaced": dict(moving), "records": moved},
    )


@transaction.atomic
def delete_property(*, prop: Property, actor=None, source: str = sources.USER) -> None:
    """Delete a custom property. Its values stay in records until they are next written.

    A property that something uses ("Used in": sync properties, field mappings, …) is refused
    with the list, so nothing is left reading a property that is gone.
    """
    if prop.is_builtin:
        raise SchemaError(f"{prop} is a default property and cannot be deleted")
    usages = list_property_usages(prop, viewer=actor)
    if usages:
        raise PropertyInUseError(prop, usages)
    record_property_audit(prop=prop, verb="delete_property", source=source, actor=actor)
    prop.delete()


def _validate_name(name: str) -> None:
    try:
        NAME_VALIDATOR(name)
    except ValidationError as exc:
        raise SchemaError(f"{name!r}: {exc.messages[0]}", field="name") from None


def _check_values_unique(prop: Property) -> None:
    """Refuse to make a property unique while active records share a value, naming them."""
    key = f"properties__{prop.name}"
    duplicates = (
        Record.objects.filter(
            object_type=prop.object_type, archived_at__isnull=True, **{f"{key}__isnull": False}
        )
        .exclude(**{key: None})  # a JSON null is no value
        .values(key)
        .annotate(records=Count("pk"))
        .filter(records__gt=1)
        .order_by("-records", key)
    )
    shown = [{"value": row[key], "records": row["records"]} for row in duplicates[:SHOWN]]
    if not shown:
        return
    total = duplicates.count()
    listing = ", ".join(f"{d['value']!r} ({d['records']} records)" for d in shown)
    more = f" and {total - len(shown)} more" if total > len(shown) else ""
    raise SchemaError(
        f"{prop} cannot become unique: active records share values: {listing}{more}. "
        "Change or archive those records first.",
        field="unique",
        extra={"duplicates": shown, "duplicate_values": total},
    )
