"""First sight of a remote record: link it to the Concord record it is, so connecting never
creates duplicates. By the Concord id it carries (its external-id field), then by the codec's
match keys (e.g. email for contacts, website domain then name for companies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm.models import Record
from crm.services.record_uniqueness import active_records_holding
from syncengine.models import ObjectMapping, RecordLink

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner


def match(run: CycleRunner, om: ObjectMapping, rows: dict[str, dict]) -> dict[str, RecordLink]:
    """Link remote records (id → normalized values) to Concord records; the links made."""
    records = _by_concord_id(run, om, rows)
    for prop, remote_field, how in run.codec.MATCH_KEYS.get(om.remote_object, []):
        wanted: dict[str, str] = {}
        for rid, values in rows.items():
            if rid in records or not values.get(remote_field):
                continue
            key = _key(run, values[remote_field], how)
            if key:
                wanted.setdefault(key, rid)
        if not wanted:
            continue
        taken = {r.pk for r in records.values()}
        for record in _unlinked_holders(run, om, prop, _stored_forms(prop, wanted)):
            rid = wanted.get(_key(run, str(record.properties.get(prop, "")).lower(), how))
            if rid and rid not in records and record.pk not in taken:
                records[rid] = record
                taken.add(record.pk)
    return {rid: _link(run, om, rid, record) for rid, record in records.items()}


def _unlinked_holders(
    run: CycleRunner, om: ObjectMapping, prop: str, values: list[str]
) -> list[Record]:
    """The active records of the mapping's type holding one of `values` in `prop` that no
    remote record of this integration is linked to yet, in id order."""
    # The values first (an index lookup each where the property has one), then which of the
    # few records found are linked: the table's statistics lag behind a bulk load, and a single
    # query excluding every linked record let the planner compare each of the type's records
    # with every value and every link.
    holders = [pk for pk, _ in active_records_holding(om.object_type, prop, values)]
    linked = RecordLink.objects.filter(
        integration=run.integration, remote_id__isnull=False, record_id__in=holders
    ).values_list("record_id", flat=True)
    unlinked = set(holders) - set(linked)
    return list(Record.objects.filter(pk__in=unlinked).order_by("pk")) if unlinked else []


def _by_concord_id(run: CycleRunner, om: ObjectMapping, rows: dict[str, dict]) -> dict:
    """Remote records that carry the id of a Concord record of this type."""
    by_concord_id = {}
    for rid, values in rows.items():
        ext = values.get(run.ext)
        if ext and str(ext).isdigit():
            by_concord_id[int(ext)] = rid
    records: dict[str, Record] = {}
    if by_concord_id:
        for record in Record.objects.filter(object_type=om.object_type, pk__in=list(by_concord_id)):
            records[by_concord_id[record.pk]] = record
    return records


def _key(run: CycleRunner, value: object, how: str) -> str:
    return run.codec.domain_of(value) if how == "domain" else str(value).lower()


def _link(run: CycleRunner, om: ObjectMapping, rid: str, record: Record) -> RecordLink:
    """The record's link (made or moved) pointing to the remote record."""
    link = (
        RecordLink.objects.filter(integration=run.integration, record=record)
        .select_related("record")
        .first()
    )
    if link is None:
        link = RecordLink(
            integration=run.integration,
            object_mapping=om,
            record=record,
            remote_object=om.remote_object,
        )
    link.object_mapping, link.remote_object, link.remote_id = om, om.remote_object, rid
    link.save()
    return link


def _stored_forms(prop: str, wanted: dict[str, str]) -> list[str]:
    """The forms the wanted keys may be stored in: JSON lookups compare exactly."""
    if prop == "email":
        return sorted(wanted)  # Concord stores emails lower-cased, as the keys are
    # Other values keep the case people typed.
    values = set()
    for key in wanted:
        values.update({key, key.lower(), key.title(), key.upper(), f"www.{key}"})
    return sorted(values)
