"""A cursor not made by Concord is a 400 naming `cursor` on every cursor-paginated list, never a
500 (DRF hands the decoded position to the database) nor DRF's 404."""

from __future__ import annotations

import base64

import pytest

from crm import sources
from crm.services.records import create_record


def encoded(querystring: str) -> str:
    return base64.b64encode(querystring.encode()).decode()


LISTS = [
    "/api/v1/objects/contacts/records/",  # ordered by id
    "/api/v1/associations/",
    "/api/v1/audit-events/",
    "/api/v1/backups/",  # ordered by created_at
    "/api/v1/restores/",
    "/api/v1/imports/",
    "/api/v1/notifications/",
]

CRAFTED = {
    "position_not_a_number_or_date": encoded("p=abc"),
    "position_past_64_bits": encoded(f"p={2**64}"),
    "position_past_9999_in_utc": encoded("p=9999-12-31T23:59:59-12:00"),
    "position_naive_datetime": encoded("p=2026-01-01 00:00:00"),
    "position_with_nul": encoded("p=1%00"),
    "reverse_with_bad_position": encoded("r=1&p=abc"),
    "offset_not_a_number": encoded("o=abc"),
    "not_base64": "%%%garbage",
    "base64_of_binary": base64.b64encode(b"\xff\xfe\x00").decode(),
}


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("cursor", CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_cursors_are_a_400(staff_api_client, crm_schema, url, cursor):
    response = staff_api_client.get(url, {"cursor": cursor})
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {"detail": "invalid cursor", "errors": {"cursor": ["invalid cursor"]}}


@pytest.mark.parametrize("cursor", ["²", "\u0661", str(2**64)])
def test_crafted_cursors_of_the_sync_error_list_are_a_400(staff_api_client, db, cursor):
    response = staff_api_client.get("/api/v1/sync-errors/", {"cursor": cursor})
    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"] == {"cursor": ["not a valid cursor"]}


def test_cursors_made_by_concord_still_page(staff_api_client, contacts):
    ids = [
        create_record(object_type=contacts, source=sources.API, properties={"lastname": str(i)}).pk
        for i in range(3)
    ]
    first = staff_api_client.get("/api/v1/objects/contacts/records/", {"limit": 2}).json()
    second = staff_api_client.get(first["next"]).json()
    assert [r["id"] for r in first["results"] + second["results"]] == sorted(ids, reverse=True)
    back = staff_api_client.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
