"""Lead conversion, triggered through the control API as a Salesforce user would in the UI.

REST has no convert endpoint; for Concord a conversion is an inbound change to detect (reference
§8). The result mirrors SOAP ``LeadConvertResult``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import ids
from .dml import Transaction, WriteOp, WriteOptions, Writer
from .errors import ApiError, not_found
from .org import OrgDef


def _mapped(lead: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    return {
        target: lead.get(source)
        for source, target in mapping.items()
        if lead.get(source) not in (None, "")
    }


def _merge_into(batch: Transaction, sobject: str, record_id: str, values: dict[str, Any]) -> None:
    """Existing records only get their empty fields filled, as Salesforce's merge does."""
    _, existing = batch.existing(batch.org.objects[sobject], record_id)
    blanks = {k: v for k, v in values.items() if existing.get(k) in (None, "")}
    batch.update(WriteOp("update", sobject, blanks, record_id=record_id))


def convert_lead(
    writer: Writer, org: OrgDef, lead_id: str, options: dict[str, Any]
) -> dict[str, Any]:
    """Convert a lead: create or merge Account and Contact, optionally create an Opportunity."""
    try:
        lead_id = ids.to_18(lead_id)
    except ids.MalformedIdError as exc:
        raise ApiError("MALFORMED_ID", f"malformed id {lead_id}", []) from exc
    lead = writer.store.get(lead_id)
    if lead is None or not lead_id.startswith(org.objects["Lead"].key_prefix):
        raise not_found()
    if lead.get("IsDeleted"):
        raise ApiError("ENTITY_IS_DELETED", "entity is deleted", [])
    if lead.get("IsConverted"):
        raise ApiError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    mapping = org.lead_conversion

    def work(batch: Transaction) -> dict[str, Any]:
        account_values = _mapped(lead, mapping["account"])
        account_values.setdefault("Name", lead.get("Company") or lead.get("LastName"))
        if options.get("accountId"):
            account_id = ids.to_18(options["accountId"])
            _merge_into(batch, "Account", account_id, account_values)
        else:
            account_id = batch.insert(WriteOp("insert", "Account", account_values)).id
        contact_values = _mapped(lead, mapping["contact"])
        if options.get("contactId"):
            contact_id = ids.to_18(options["contactId"])
            _merge_into(batch, "Contact", contact_id, contact_values)
        else:
            contact_values["AccountId"] = account_id
            contact_id = batch.insert(WriteOp("insert", "Contact", contact_values)).id
        opportunity_id = None
        if not options.get("doNotCreateOpportunity"):
            stage = org.objects["Opportunity"].fields["StageName"].values[0]
            opportunity_values = _mapped(lead, mapping.get("opportunity", {}))
            opportunity_values.update(
                Name=options.get("opportunityName") or f"{account_values['Name']}-",
                StageName=stage,
                CloseDate=(dt.date.today() + dt.timedelta(days=30)).isoformat(),
                AccountId=account_id,
            )
            opportunity_id = batch.insert(WriteOp("insert", "Opportunity", opportunity_values)).id
        batch.update(
            WriteOp(
                "update",
                "Lead",
                {},
                record_id=lead_id,
                system_values={
                    "IsConverted": True,
                    "ConvertedDate": dt.date.today().isoformat(),
                    "ConvertedAccountId": account_id,
                    "ConvertedContactId": contact_id,
                    "ConvertedOpportunityId": opportunity_id,
                    "Status": options.get("convertedStatus") or mapping["converted_status"],
                },
            )
        )
        return {
            "leadId": lead_id,
            "accountId": account_id,
            "contactId": contact_id,
            "opportunityId": opportunity_id,
            "success": True,
            "errors": [],
        }

    options_ = WriteOptions(
        bypass_fls=True, allow_save_duplicates=True, acting_user_id=options.get("ownerId")
    )
    return writer.transaction(work, options_)
