"""getUpdated / getDeleted windows and errors (reference §2.4-2.5)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest


def window(minutes_back: int = 5, minutes_ahead: int = 2) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(minutes=minutes_back), now + dt.timedelta(minutes=minutes_ahead)


def test_get_updated_and_get_deleted(sf: Salesforce) -> None:
    created = sf.Opportunity.create(
        {
            "Name": f"Deal {uuid.uuid4().hex[:6]}",
            "StageName": "Prospecting",
            "CloseDate": "2030-01-31",
            "Amount": 10,
        }
    )["id"]
    gone = sf.Opportunity.create(
        {"Name": "Doomed", "StageName": "Prospecting", "CloseDate": "2030-01-31"}
    )["id"]
    sf.Opportunity.delete(gone)
    start, end = window()
    updated = sf.Opportunity.updated(start, end)
    assert created in updated["ids"] and gone not in updated["ids"]
    latest = dt.datetime.strptime(updated["latestDateCovered"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert latest <= end and latest.second == 0
    deleted = sf.Opportunity.deleted(start, end)
    assert {"id", "deletedDate"} == set(deleted["deletedRecords"][0])
    assert gone in [r["id"] for r in deleted["deletedRecords"]]
    assert "earliestDateAvailable" in deleted and "latestDateCovered" in deleted


def test_replication_window_errors(sf: Salesforce) -> None:
    start, end = window()
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.updated(end, start)
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.updated(old, end)
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.deleted(dt.datetime.now(dt.UTC) - dt.timedelta(days=16), end)
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_system_stamps_have_whole_seconds(sandbox, sf: Salesforce) -> None:
    # Salesforce keeps CreatedDate, LastModifiedDate, SystemModstamp and deleted dates to the
    # second: the wire always shows ".000", and writes in one second share their stamp.
    held = sandbox.control("POST", "clock", json={"held_at": "2026-03-04T05:06:07.891Z"}).json()
    assert held["held_at"] == "2026-03-04T05:06:07.891+0000" and held["now"].endswith("07.000+0000")
    first = sf.Contact.create({"LastName": "Second"})["id"]
    second = sf.Contact.create({"LastName": "Same second"})["id"]
    sf.Contact.update(first, {"Title": "Edited"})
    sandbox.control("DELETE", "clock")
    rows = sf.query(
        f"SELECT CreatedDate, LastModifiedDate, SystemModstamp FROM Contact "
        f"WHERE Id IN ('{first}', '{second}')"
    )["records"]
    stamps = {row[name] for row in rows for name in ("CreatedDate", "LastModifiedDate",
                                                     "SystemModstamp")}  # fmt: skip
    assert stamps == {"2026-03-04T05:06:07.000+0000"}
    sf.Contact.delete(second)
    start, end = window()
    deleted = {r["id"]: r["deletedDate"] for r in sf.Contact.deleted(start, end)["deletedRecords"]}
    assert deleted[second].endswith(".000+0000")
    (row,) = sf.query_all(f"SELECT SystemModstamp FROM Contact WHERE Id = '{second}'",
                          include_deleted=True)["records"]  # fmt: skip
    assert row["SystemModstamp"].endswith(".000+0000")


def test_emptying_the_recycle_bin_hides_records_from_query_all_but_not_from_get_deleted(
    sandbox, sf: Salesforce
) -> None:
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    binned = sf.Contact.create({"LastName": "Binned"})["id"]
    purged = sf.Contact.create({"LastName": "Purged"})["id"]
    sf.Contact.delete(binned)
    sf.Contact.delete(purged)
    # A user empties the recycle bin of one record: queryAll no longer sees it.
    emptied = sandbox.control("POST", "recycle-bin/empty", json={"ids": [purged]}).json()
    assert emptied == {"purged": [purged]}
    ours = f"('{kept}', '{binned}', '{purged}')"
    rows = sf.query_all(f"SELECT Id FROM Contact WHERE Id IN {ours}", include_deleted=True)
    assert {r["Id"] for r in rows["records"]} == {kept, binned}
    # getDeleted still lists both deletes until Salesforce purges its delete log.
    start, end = window()
    deleted = {r["id"] for r in sf.Contact.deleted(start, end)["deletedRecords"]}
    assert deleted & {kept, binned, purged} == {binned, purged}
    sandbox.control("POST", "delete-log/purge")
    try:
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.Contact.deleted(start, end)
        assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    finally:
        # The purge holds for every later window starting before it: the session's other
        # tests (in this process, minutes later on a slow machine) must not inherit it.
        sandbox.control("POST", "reset")
