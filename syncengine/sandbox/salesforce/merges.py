"""Record merges, triggered through the control API as a Salesforce user would in the UI.

Salesforce merges up to three Accounts, Contacts or Leads (the master and one or two victims,
as the UI and SOAP ``merge()`` do): the master keeps its values except the fields the request
sets on it, the victims are deleted with ``MasterRecordId`` pointing at the master (queryAll
sees them), and records that referenced a victim are re-parented to the master. The result
mirrors SOAP ``MergeResult``. REST has no merge resource; for Concord a merge is an inbound
change to detect.
"""

from __future__ import annotations

from typing import Any

from . import ids
from .dml import Transaction, WriteOp, WriteOptions, Writer
from .errors import ApiError, not_found
from .org import OrgDef

MERGEABLE = ("Account", "Contact", "Lead")
MAX_RECORDS = 3  # the master included


def _record_id(raw: Any) -> str:
    try:
        return ids.to_18(str(raw))
    except ids.MalformedIdError as exc:
        raise ApiError("MALFORMED_ID", f"malformed id {raw}", []) from exc


def _check_request(sobject: str, master_id: str, victim_ids: list[str]) -> None:
    if sobject not in MERGEABLE:
        raise ApiError("INVALID_TYPE", f"merge is not supported for {sobject}", [])
    if not victim_ids:
        raise ApiError("REQUIRED_FIELD_MISSING", "recordToMergeIds: at least one id", [])
    if len(victim_ids) + 1 > MAX_RECORDS:
        raise ApiError(
            "LIMIT_EXCEEDED",
            f"a merge takes at most {MAX_RECORDS} records, the master record included",
            [],
        )
    if master_id in victim_ids or len(set(victim_ids)) != len(victim_ids):
        raise ApiError("INVALID_ID_FIELD", "each record of a merge must be named once", [])


def _reparent(batch: Transaction, org: OrgDef, sobject: str, master: str, victims: set[str]):
    """Point every record that references a victim at the master; their ids."""
    moved: list[str] = []
    for obj in org.objects.values():
        fields = [
            f.name
            for f in obj.fields.values()
            if f.type == "reference" and sobject in f.reference_to and not f.system
        ]
        if not fields:
            continue
        for stored in batch.store.iter_sobject(obj.name):
            record = batch.lookup(stored["Id"]) or stored
            if record.get("IsDeleted") or record["Id"] in victims:
                continue
            changes = {name: master for name in fields if record.get(name) in victims}
            if changes:
                batch.update(
                    WriteOp("update", obj.name, {}, record_id=record["Id"], system_values=changes)
                )
                moved.append(record["Id"])
    return moved


def merge_records(
    writer: Writer, org: OrgDef, sobject: str, body: dict[str, Any], acting_user_id: str | None
) -> dict[str, Any]:
    """Merge ``recordToMergeIds`` into ``masterRecord`` (``{"Id": …, field: value, …}``)."""
    obj = org.sobject(sobject)
    if obj is None:
        raise not_found()
    master_values = dict(body.get("masterRecord") or {})
    master_id = _record_id(master_values.pop("Id", None) or master_values.pop("id", ""))
    victim_ids = [_record_id(v) for v in body.get("recordToMergeIds") or []]
    _check_request(obj.name, master_id, victim_ids)

    def work(batch: Transaction) -> dict[str, Any]:
        batch.existing(obj, master_id)
        for victim_id in victim_ids:
            batch.existing(obj, victim_id)
        # The fields the request sets on the master supersede its values, as an update would.
        batch.update(WriteOp("update", obj.name, master_values, record_id=master_id))
        related = _reparent(batch, org, obj.name, master_id, set(victim_ids))
        for victim_id in victim_ids:
            batch.delete(WriteOp("delete", obj.name, record_id=victim_id))
            name, deleted = batch.staged[victim_id]
            batch.staged[victim_id] = (name, dict(deleted, MasterRecordId=master_id))
        return {
            "id": master_id,
            "success": True,
            "errors": [],
            "mergedRecordIds": victim_ids,
            "updatedRelatedIds": related,
        }

    options = WriteOptions(
        bypass_fls=True, allow_save_duplicates=True, acting_user_id=acting_user_id
    )
    return writer.transaction(work, options)
