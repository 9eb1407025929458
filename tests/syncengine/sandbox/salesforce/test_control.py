"""The /_sandbox/ control API: lead conversion, reset, and state surviving a restart."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.support.salesforce_sandbox import SalesforceSandbox, start_sandbox, stop_sandbox


def test_lead_conversion_creates_records_and_locks_the_lead(
    sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    email = f"{uuid.uuid4().hex[:8]}@lead.example.com"
    # Stamps have whole seconds: the lead is created a minute "ago" so the conversion's is later.
    sandbox.control("POST", "clock", json={"held_at": "2026-01-05T10:00:00Z"})
    lead_id = sf.Lead.create(
        {
            "FirstName": "Lee",
            "LastName": "Ada",
            "Company": "Ada Corp",
            "Email": email,
            "City": "Paris",
        }
    )["id"]
    before = sf.Lead.get(lead_id)["SystemModstamp"]
    sandbox.control("DELETE", "clock")
    result = sandbox.control("POST", f"leads/{lead_id}/convert", json={}).json()
    assert result["success"] is True and result["leadId"] == lead_id
    lead = sf.Lead.get(lead_id)
    assert lead["IsConverted"] is True and lead["Status"] == "Closed - Converted"
    assert lead["ConvertedContactId"] == result["contactId"]
    assert lead["ConvertedAccountId"] == result["accountId"]
    assert lead["ConvertedOpportunityId"] == result["opportunityId"]
    assert lead["SystemModstamp"] > before
    contact = sf.Contact.get(result["contactId"])
    assert contact["Email"] == email and contact["AccountId"] == result["accountId"]
    assert contact["MailingCity"] == "Paris"
    assert sf.Account.get(result["accountId"])["Name"] == "Ada Corp"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead_id, {"Title": "CTO"})
    assert caught.value.content == [
        {
            "message": "cannot reference converted lead",
            "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
            "fields": [],
        }
    ]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead_id, {"IsConverted": False})
    assert caught.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_conversion_merges_into_existing_records(
    sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    account_id = sf.Account.create({"Name": "Existing", "Website": "https://existing.example"})[
        "id"
    ]
    lead_id = sf.Lead.create(
        {
            "LastName": "Merge",
            "Company": "New Name",
            "Website": "https://lead.example",
            "Phone": "555-0199",
        }
    )["id"]
    result = sandbox.control(
        "POST",
        f"leads/{lead_id}/convert",
        json={"accountId": account_id, "doNotCreateOpportunity": True},
    ).json()
    assert result["accountId"] == account_id and result["opportunityId"] is None
    account = sf.Account.get(account_id)
    assert account["Name"] == "Existing" and account["Website"] == "https://existing.example"
    assert account["Phone"] == "555-0199"  # only empty fields are filled


def test_converted_lead_fields_are_not_writable(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"LastName": "X", "Company": "Y", "ConvertedContactId": None})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_state_survives_a_restart_and_reset_clears_it(tmp_path: Path) -> None:
    first = start_sandbox(tmp_path / "state.sqlite3", tmp_path / "ca")
    try:
        sf = first.client()
        account_id = sf.Account.create({"Name": "Persistent"})["id"]
        sf.limits()
        used = sf.api_usage["api-usage"].used
    finally:
        stop_sandbox(first)
    ca_before = (tmp_path / "ca" / "salesforce-ca.pem").read_bytes()
    second = start_sandbox(tmp_path / "state.sqlite3", tmp_path / "ca")
    try:
        assert (tmp_path / "ca" / "salesforce-ca.pem").read_bytes() == ca_before  # CA reused
        sf = second.client()
        assert sf.Account.get(account_id)["Name"] == "Persistent"
        sf.limits()
        assert sf.api_usage["api-usage"].used == used + 2  # the rolling count is persisted
        assert second.control("POST", "reset").json()["reset"] is True
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    finally:
        stop_sandbox(second)
