"""Object, field and reference mappings: defaults on connect, checked edits by staff."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.audit import record_audit
from crm.models import AssociationDefinition, ObjectType, Property
from syncengine.connectors.registry import codec_of
from syncengine.connectors.salesforce import mapping as sf_mapping
from syncengine.errors import DeleteRuleRefused
from syncengine.models import FieldMapping, Integration, ObjectMapping, ReferenceMapping, SyncRule


@transaction.atomic
def create_default_mappings(*, integration: Integration) -> list[ObjectMapping]:
    """The default mappings (contacts ↔ Contact, companies ↔ Account, …); existing ones stay."""
    types = {t.name: t for t in ObjectType.objects.all()}
    created: dict[str, ObjectMapping] = {}
    pending_refs = []
    for type_name, remote, order, enabled, fields, refs in sf_mapping.DEFAULT_MAPPINGS:
        object_type = types.get(type_name)
        if object_type is None:
            continue
        om, _ = ObjectMapping.objects.get_or_create(
            integration=integration,
            object_type=object_type,
            remote_object=remote,
            defaults={"sync_order": order, "enabled": enabled},
        )
        created[remote] = om
        props = {p.name: p for p in Property.objects.filter(object_type=object_type)}
        for prop_name, field, rule, value_map in fields:
            if prop_name in props:
                FieldMapping.objects.get_or_create(
                    object_mapping=om,
                    remote_field=field,
                    defaults={
                        "property": props[prop_name],
                        "rule": rule,
                        "is_default": True,
                        "value_map": value_map,
                    },
                )
        pending_refs.extend((om, ref) for ref in refs)
    for om, (field, (from_name, to_name, label), target_remote) in pending_refs:
        definition = AssociationDefinition.objects.filter(
            from_object_type__name=from_name, to_object_type__name=to_name, label=label
        ).first()
        target = created.get(target_remote)
        if definition and target:
            ReferenceMapping.objects.get_or_create(
                object_mapping=om,
                remote_field=field,
                defaults={"definition": definition, "target": target},
            )
    return list(created.values())


def check_field_mapping(
    *, object_mapping: ObjectMapping, prop: Property, remote_field: str
) -> None:
    """Refuse a mapping whose property and field types cannot sync (ValidationError)."""
    errors: dict[str, list[str]] = {}
    codec = codec_of(object_mapping.integration.kind)
    if remote_field == codec.EXTERNAL_ID_FIELD:
        errors["remote_field"] = [
            f"{remote_field} holds the Concord record id and cannot be mapped to a property"
        ]
    if prop.object_type_id != object_mapping.object_type_id:
        errors["property"] = [f"is not a property of {object_mapping.object_type.name}"]
    schema = object_mapping.remote_schema or {}
    if schema:
        remote = schema.get(remote_field)
        if remote is None:
            errors["remote_field"] = [
                f"{object_mapping.remote_object} has no field {remote_field!r} the integration "
                "user can see"
            ]
        elif not codec.is_compatible(prop.type, remote["type"]):
            errors["remote_field"] = [
                f"a {prop.get_type_display().lower()} property cannot sync with a "
                f"{remote['type']} field"
            ]
    if errors:
        raise ValidationError(errors)


def is_locked(field_mapping: FieldMapping) -> bool:
    """Google Contacts' default mappings cannot be edited or removed (SPEC G-4)."""
    return (
        field_mapping.is_default
        and field_mapping.object_mapping.integration.kind == Integration.Kind.GOOGLE_CONTACTS
    )


def check_editable(field_mapping: FieldMapping) -> None:
    if is_locked(field_mapping):
        raise ValidationError(
            f"{field_mapping.property.name} ↔ {field_mapping.remote_field} is one of Google "
            "Contacts' default mappings, which cannot be edited or removed; add a custom "
            "mapping instead."
        )


@transaction.atomic
def delete_field_mapping(*, field_mapping: FieldMapping, actor=None) -> None:
    """Remove a custom mapping; audited."""
    check_editable(field_mapping)
    detail = {
        "integration": field_mapping.object_mapping.integration_id,
        "field_mapping": field_mapping.pk,
    }
    target = str(field_mapping)
    field_mapping.delete()
    record_audit(
        verb="delete_field_mapping",
        source="user" if actor else "system",
        actor=actor,
        target_repr=target,
        detail=detail,
    )


@transaction.atomic
def save_field_mapping(
    *,
    object_mapping: ObjectMapping,
    prop: Property,
    remote_field: str,
    rule: str,
    value_map: dict | None = None,
    field_mapping: FieldMapping | None = None,
    actor=None,
) -> FieldMapping:
    """Create or change a field mapping after checking type compatibility; audited."""
    if rule not in SyncRule.values:
        raise ValidationError({"rule": [f"unknown sync rule {rule!r}"]})
    if field_mapping is not None:
        check_editable(field_mapping)
    check_field_mapping(object_mapping=object_mapping, prop=prop, remote_field=remote_field)
    clash = FieldMapping.objects.filter(object_mapping=object_mapping, remote_field=remote_field)
    if field_mapping is not None:
        clash = clash.exclude(pk=field_mapping.pk)
    if clash.exists():
        raise ValidationError({"remote_field": ["is already mapped"]})
    fm = field_mapping or FieldMapping(object_mapping=object_mapping, is_default=False)
    fm.property, fm.remote_field, fm.rule = prop, remote_field, rule
    if value_map is not None:
        fm.value_map = value_map
    fm.save()
    record_audit(
        verb="save_field_mapping",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(fm),
        detail={"integration": object_mapping.integration_id, "field_mapping": fm.pk, "rule": rule},
    )
    return fm


@transaction.atomic
def set_field_mapping_rule(*, field_mapping: FieldMapping, rule: str, actor=None) -> FieldMapping:
    """Change only the sync rule of a mapping."""
    return save_field_mapping(
        object_mapping=field_mapping.object_mapping,
        prop=field_mapping.property,
        remote_field=field_mapping.remote_field,
        rule=rule,
        field_mapping=field_mapping,
        actor=actor,
    )


@transaction.atomic
def save_object_mapping(
    *, object_mapping: ObjectMapping, changed_fields: Sequence[str] = (), actor=None
) -> ObjectMapping:
    """Create or change an object mapping as staff edited it (direction, order, …); audited."""
    created = object_mapping.pk is None
    object_mapping.save()
    record_audit(
        verb="create_object_mapping" if created else "update_object_mapping",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(object_mapping),
        detail={
            "integration": object_mapping.integration_id,
            "object_mapping": object_mapping.pk,
            "changed": list(changed_fields),
        },
    )
    return object_mapping


@transaction.atomic
def save_reference_mapping(
    *, reference_mapping: ReferenceMapping, changed_fields: Sequence[str] = (), actor=None
) -> ReferenceMapping:
    """Create or change a reference mapping (association ↔ remote reference field); audited."""
    reference_mapping.save()
    record_audit(
        verb="save_reference_mapping",
        source="user" if actor else "system",
        actor=actor,
        target_repr=f"{reference_mapping.object_mapping}.{reference_mapping.remote_field}",
        detail={
            "integration": reference_mapping.object_mapping.integration_id,
            "reference_mapping": reference_mapping.pk,
            "changed": list(changed_fields),
        },
    )
    return reference_mapping


@transaction.atomic
def delete_reference_mapping(*, reference_mapping: ReferenceMapping, actor=None) -> None:
    """Remove a reference mapping; audited."""
    detail = {
        "integration": reference_mapping.object_mapping.integration_id,
        "reference_mapping": reference_mapping.pk,
    }
    target = f"{reference_mapping.object_mapping}.{reference_mapping.remote_field}"
    reference_mapping.delete()
    record_audit(
        verb="delete_reference_mapping",
        source="user" if actor else "system",
        actor=actor,
        target_repr=target,
        detail=detail,
    )


@transaction.atomic
def set_delete_rules(
    *,
    object_mapping: ObjectMapping,
    pull_delete_rule: str | None = None,
    push_delete_rule: str | None = None,
    confirm_deletes: bool = False,
    actor=None,
) -> ObjectMapping:
    """Set what a delete on one side does on the other (SPEC L-1); audited.

    Turning on "delete in the remote" deletes records outside Concord, so it needs an explicit
    confirmation (`confirm_deletes`); without it nothing changes."""
    pull_rules, push_rules = ObjectMapping.PullDeleteRule, ObjectMapping.PushDeleteRule
    if pull_delete_rule is not None and pull_delete_rule not in pull_rules.values:
        raise DeleteRuleRefused(
            f"unknown pull delete rule {pull_delete_rule!r}: one of {', '.join(pull_rules.values)}",
            field="pull_delete_rule",
        )
    if push_delete_rule is not None and push_delete_rule not in push_rules.values:
        raise DeleteRuleRefused(
            f"unknown push delete rule {push_delete_rule!r}: one of {', '.join(push_rules.values)}",
            field="push_delete_rule",
        )
    turning_on = (
        push_delete_rule == push_rules.DELETE
        and object_mapping.push_delete_rule != push_rules.DELETE
    )
    if turning_on and not confirm_deletes:
        raise DeleteRuleRefused(
            f"Deleting in {object_mapping.integration.get_kind_display()} the "
            f"{object_mapping.remote_object} records archived in Concord must be confirmed: "
            'send "confirm_deletes": true with "push_delete_rule": "delete".',
            field="confirm_deletes",
            code="confirmation_required",
        )
    changed = {}
    for name, value in (
        ("pull_delete_rule", pull_delete_rule),
        ("push_delete_rule", push_delete_rule),
    ):
        if value is not None and getattr(object_mapping, name) != value:
            changed[name] = [getattr(object_mapping, name), value]
            setattr(object_mapping, name, value)
    if not changed:
        return object_mapping
    object_mapping.save(update_fields=list(changed))
    record_audit(
        verb="set_delete_rules",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(object_mapping),
        detail={
            "integration": object_mapping.integration_id,
            "object_mapping": object_mapping.pk,
            "changed": changed,
            "confirmed": bool(confirm_deletes),
        },
    )
    return object_mapping
