"""Association writes: link and unlink records, within each definition's limits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Count

from crm import hooks, sources
from crm.audit import record_audit_many
from crm.errors import AssociationError
from crm.models import Association, AssociationDefinition, Record


@transaction.atomic
def associate_records(
    *, definition: AssociationDefinition, pairs: Sequence[tuple[int, int]], actor=None, source: str
) -> list[Association]:
    """Link (from record id, to record id) pairs; pairs already linked are left as they are."""
    sources.validate_source(source)
    pairs = list(dict.fromkeys(pairs))
    from_ids = {a for a, _ in pairs}
    to_ids = {b for _, b in pairs}
    # Locking the records serialises concurrent writers, so two of them cannot both pass the
    # limit check with the last free slot.
    records = {
        r.pk: r
        for r in Record.objects.select_for_update()
        .filter(pk__in=from_ids | to_ids)
        .only("pk", "object_type_id", "archived_at")
    }
    for from_id, to_id in pairs:
        _check_endpoint(records.get(from_id), from_id, definition.from_object_type_id, "from")
        _check_endpoint(records.get(to_id), to_id, definition.to_object_type_id, "to")
        if from_id == to_id:
            raise AssociationError("a record cannot be associated with itself")
    existing = set(
        Association.objects.filter(
            definition=definition,
            from_record_id__in=from_ids,
            to_record_id__in=to_ids,
        ).values_list("from_record_id", "to_record_id")
    )
    new_pairs = [p for p in pairs if p not in existing]
    if not new_pairs:
        return []
    _check_limit(definition, new_pairs, side="from")
    _check_limit(definition, new_pairs, side="to")
    created = Association.objects.bulk_create(
        [Association(definition=definition, from_record_id=a, to_record_id=b) for a, b in new_pairs]
    )
    record_audit_many(
        verb="associate",
        source=source,
        actor=actor,
        object_type=definition.from_object_type,
        targets=[(a, "", _detail(definition, b)) for a, b in new_pairs],
    )
    hooks.emit_associations_changed(
        hooks.AssociationsChanged(
            definition=definition, pairs=tuple(new_pairs), source=source, kind="added"
        )
    )
    return created


def associate(
    *,
    definition: AssociationDefinition,
    from_record: Record,
    to_record: Record,
    actor=None,
    source: str,
) -> Association:
    """Link two records; returns the association, new or existing."""
    associate_records(
        definition=definition, pairs=[(from_record.pk, to_record.pk)], actor=actor, source=source
    )
    return Association.objects.get(
        definition=definition, from_record=from_record, to_record=to_record
    )


@transaction.atomic
def dissociate(*, associations: Sequence[Association], actor=None, source: str) -> int:
    """Remove associations."""
    sources.validate_source(source)
    if not associations:
        return 0
    by_definition: dict[int, list[Association]] = {}
    for association in associations:
        by_definition.setdefault(association.definition_id, []).append(association)
    Association.objects.filter(pk__in=[a.pk for a in associations]).delete()
    for group in by_definition.values():
        definition = group[0].definition
        record_audit_many(
            verb="dissociate",
            source=source,
            actor=actor,
            object_type=definition.from_object_type,
            targets=[(a.from_record_id, "", _detail(definition, a.to_record_id)) for a in group],
        )
        hooks.emit_associations_changed(
            hooks.AssociationsChanged(
                definition=definition,
                pairs=tuple((a.from_record_id, a.to_record_id) for a in group),
                source=source,
                kind="removed",
            )
        )
    return len(associations)


def _detail(definition: AssociationDefinition, to_record_id: int) -> dict:
    return {"to_record": to_record_id, "definition": definition.pk, "label": definition.label}


def _check_endpoint(record: Record | None, pk: int, object_type_id: int, side: str) -> None:
    if record is None:
        raise AssociationError(f"record {pk} does not exist")
    if record.archived_at is not None:
        raise AssociationError(f"record {pk} is in the recycle bin")
    if record.object_type_id != object_type_id:
        raise AssociationError(f"record {pk} is not of the association's {side} object type")


def _check_limit(
    definition: AssociationDefinition, new_pairs: list[tuple[int, int]], side: str
) -> None:
    limit = definition.from_limit if side == "from" else definition.to_limit
    if limit is None:
        return
    index = 0 if side == "from" else 1
    field = f"{side}_record_id"
    adding = Counter(pair[index] for pair in new_pairs)
    current = dict(
        Association.objects.filter(definition=definition, **{f"{field}__in": adding})
        .values(field)
        .annotate(n=Count("pk"))
        .values_list(field, "n")
    )
    for record_id, n in adding.items():
        total = current.get(record_id, 0) + n
        if total > limit:
            other = definition.to_object_type if side == "from" else definition.from_object_type
            label = f" {definition.label!r}" if definition.label else ""
            raise AssociationError(
                f"record {record_id} would have {total}{label} associations with "
                f"{other.name}; the limit is {limit}"
            )
