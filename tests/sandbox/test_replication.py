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
