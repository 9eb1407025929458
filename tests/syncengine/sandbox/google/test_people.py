"""people.get / createContact / updateContact / deleteContact, field rendering and errors."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.support.google_sandbox import create_many, error_of, person, reason_of

ALL_FIELDS = "names,emailAddresses,phoneNumbers,organizations,addresses,biographies,userDefined"


def full_person() -> dict[str, Any]:
    return {
        "names": [{"givenName": "Ada", "familyName": "Lovelace"}],
        "emailAddresses": [{"value": "ada@example.com", "type": "work"}],
        "phoneNumbers": [
            {"value": "+44 20 7946 0000", "type": "mobile"},
            {"value": "+44 20 7946 0001", "type": "work"},
            {"value": "020 7946 0002", "type": "home"},
            {"value": "+44 20 7946 0003", "type": "workFax"},
            {"value": "+44 20 7946 0004", "type": "homeFax"},
            {"value": "+44 20 7946 0005", "type": "other"},
        ],
        "organizations": [{"name": "Analytical Engines Ltd", "title": "Mathematician"}],
        "addresses": [
            {
                "streetAddress": "12 St James's Sq",
                "city": "London",
                "postalCode": "SW1Y 4JH",
                "country": "United Kingdom",
                "type": "work",
            }
        ],
        "biographies": [{"value": "Met at the Babbage soirée."}],
        "userDefined": [{"key": "Lifecycle stage", "value": "customer"}],
    }


def test_create_and_get_render_every_field_like_google(people: Any) -> None:
    created = people.people().createContact(body=full_person()).execute()
    assert created["resourceName"].startswith("people/c")
    assert created["resourceName"][len("people/c") :].isdigit()
    assert created["etag"].startswith("%")

    got = (
        people.people()
        .get(
            resourceName=created["resourceName"], personFields=ALL_FIELDS + ",metadata,memberships"
        )
        .execute()
    )
    name = got["names"][0]
    assert name["displayName"] == "Ada Lovelace"
    assert name["displayNameLastFirst"] == "Lovelace, Ada"
    assert name["metadata"]["primary"] is True
    assert name["metadata"]["source"]["type"] == "CONTACT"
    phones = {p["type"]: p for p in got["phoneNumbers"]}
    assert set(phones) == {"mobile", "work", "home", "workFax", "homeFax", "other"}
    assert phones["mobile"]["canonicalForm"] == "+442079460000"
    assert phones["workFax"]["formattedType"] == "Work Fax"
    # A national number is read in the account's region (US by default): not a US number.
    assert "canonicalForm" not in phones["home"]
    assert [p["metadata"].get("primary", False) for p in got["phoneNumbers"]][:2] == [True, False]
    assert got["organizations"][0] == {
        **got["organizations"][0],
        "name": "Analytical Engines Ltd",
        "title": "Mathematician",
    }
    address = got["addresses"][0]
    assert address["formattedValue"] == "12 St James's Sq\nLondon SW1Y 4JH\nUnited Kingdom"
    assert address["formattedType"] == "Work"
    assert got["biographies"][0]["contentType"] == "TEXT_PLAIN"
    assert got["userDefined"][0]["key"] == "Lifecycle stage"
    source = got["metadata"]["sources"][0]
    assert source["type"] == "CONTACT" and source["etag"].startswith("#")
    assert source["updateTime"].endswith("Z")
    assert got["memberships"][0]["contactGroupMembership"] == {
        "contactGroupId": "myContacts",
        "contactGroupResourceName": "contactGroups/myContacts",
    }
    assert got["etag"] == created["etag"]


def test_person_fields_mask_limits_the_answer(people: Any) -> None:
    created = people.people().createContact(body=full_person()).execute()
    got = people.people().get(resourceName=created["resourceName"], personFields="names").execute()
    assert set(got) == {"resourceName", "etag", "names"}


def test_person_fields_is_required_and_checked(people: Any) -> None:
    created = people.people().createContact(body=person("Mask")).execute()
    with pytest.raises(HttpError) as missing:
        people.people().get(resourceName=created["resourceName"], personFields="").execute()
    assert missing.value.status_code == 400
    assert error_of(missing.value)["status"] == "INVALID_ARGUMENT"
    assert "personFields mask is required" in error_of(missing.value)["message"]
    with pytest.raises(HttpError) as bad:
        people.people().get(
            resourceName=created["resourceName"], personFields="names,foo"
        ).execute()
    assert 'Invalid personFields mask path: "foo"' in error_of(bad.value)["message"]


def test_update_replaces_masked_fields_and_changes_the_etag(people: Any) -> None:
    created = people.people().createContact(body=full_person()).execute()
    updated = (
        people.people()
        .updateContact(
            resourceName=created["resourceName"],
            updatePersonFields="phoneNumbers,biographies",
            personFields="names,phoneNumbers,biographies",
            body={
                "etag": created["etag"],
                "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
            },
        )
        .execute()
    )
    assert updated["etag"] != created["etag"]
    assert [p["value"] for p in updated["phoneNumbers"]] == ["+1 555 0100"]
    assert "biographies" not in updated  # in the mask, absent from the body: cleared
    assert updated["names"][0]["givenName"] == "Ada"  # not in the mask: kept


def test_update_with_a_stale_etag_fails_with_googles_message(people: Any) -> None:
    created = people.people().createContact(body=person("Stale")).execute()
    people.people().updateContact(
        resourceName=created["resourceName"],
        updatePersonFields="names",
        body={"etag": created["etag"], "names": [{"givenName": "Fresh"}]},
    ).execute()
    with pytest.raises(HttpError) as stale:
        people.people().updateContact(
            resourceName=created["resourceName"],
            updatePersonFields="names",
            body={"etag": created["etag"], "names": [{"givenName": "Lost"}]},
        ).execute()
    error = error_of(stale.value)
    assert stale.value.status_code == 400
    assert error["status"] == "FAILED_PRECONDITION"
    assert error["message"] == (
        "Request person.etag is different than the current person.etag. "
        "Clear local cache and get the latest person."
    )
    current = (
        people.people().get(resourceName=created["resourceName"], personFields="names").execute()
    )
    assert current["names"][0]["givenName"] == "Fresh"


def test_update_accepts_the_source_etag(people: Any) -> None:
    created = (
        people.people().createContact(body=person("Source"), personFields="metadata").execute()
    )
    source = created["metadata"]["sources"][0]
    updated = (
        people.people()
        .updateContact(
            resourceName=created["resourceName"],
            updatePersonFields="names",
            body={"metadata": {"sources": [source]}, "names": [{"givenName": "Sourced"}]},
        )
        .execute()
    )
    assert updated["names"][0]["givenName"] == "Sourced"


def test_update_needs_an_etag_and_an_update_mask(people: Any) -> None:
    created = people.people().createContact(body=person("Needs")).execute()
    with pytest.raises(HttpError) as no_etag:
        people.people().updateContact(
            resourceName=created["resourceName"], updatePersonFields="names", body={"names": []}
        ).execute()
    assert error_of(no_etag.value)["status"] == "INVALID_ARGUMENT"
    assert "must set person.etag" in error_of(no_etag.value)["message"]
    with pytest.raises(HttpError) as no_mask:
        people.people().updateContact(
            resourceName=created["resourceName"], body={"etag": created["etag"]}
        ).execute()
    # As Google answers it (googleapis/google-api-go-client issue 1862).
    assert error_of(no_mask.value) == {
        "code": 400,
        "message": "updatePersonFields mask is required. Please specify one or more valid "
        "paths. Valid paths are documented at "
        "https://developers.google.com/people/api/rest/v1/people/updateContact.",
        "status": "INVALID_ARGUMENT",
    }
    with pytest.raises(HttpError) as read_only:
        people.people().updateContact(
            resourceName=created["resourceName"],
            updatePersonFields="metadata",
            body={"etag": created["etag"]},
        ).execute()
    assert read_only.value.status_code == 400


def test_singleton_fields_and_unknown_fields_are_rejected(people: Any) -> None:
    with pytest.raises(HttpError) as two_names:
        people.people().createContact(
            body={"names": [{"givenName": "A"}, {"givenName": "B"}]}
        ).execute()
    assert two_names.value.status_code == 400
    with pytest.raises(HttpError) as unknown:
        people.people().createContact(body={"nonsense": [{"value": "x"}]}).execute()
    assert 'Unknown name "nonsense"' in error_of(unknown.value)["message"]


def test_delete_then_get_is_not_found(people: Any) -> None:
    created = people.people().createContact(body=person("Gone")).execute()
    assert people.people().deleteContact(resourceName=created["resourceName"]).execute() == {}
    with pytest.raises(HttpError) as gone:
        people.people().get(resourceName=created["resourceName"], personFields="names").execute()
    assert gone.value.status_code == 404
    assert error_of(gone.value) == {
        "code": 404,
        "message": "Requested entity was not found.",
        "status": "NOT_FOUND",
    }
    with pytest.raises(HttpError) as again:
        people.people().deleteContact(resourceName=created["resourceName"]).execute()
    assert again.value.status_code == 404
    assert reason_of(again.value) is None


def test_batch_get_and_search(people: Any) -> None:
    ada = people.people().createContact(body=person("Ada", "Lovelace")).execute()
    people.people().createContact(body=person("Grace", "Hopper")).execute()
    answer = (
        people.people()
        .getBatchGet(resourceNames=[ada["resourceName"], "people/c1"], personFields="names")
        .execute()
    )
    first, missing = answer["responses"]
    assert first["person"]["names"][0]["givenName"] == "Ada"
    assert missing["status"]["code"] == 5 and missing["requestedResourceName"] == "people/c1"
    found = people.people().searchContacts(query="hop", readMask="names").execute()
    assert [r["person"]["names"][0]["givenName"] for r in found["results"]] == ["Grace"]


def test_people_me_is_the_signed_in_user(people: Any) -> None:
    me = people.people().get(resourceName="people/me", personFields="emailAddresses").execute()
    assert me["emailAddresses"][0]["value"] == "sandbox.user@gmail.com"


def test_a_get_longer_than_2048_characters_arrives_as_a_post_with_a_method_override(
    people: Any, sandbox: Any
) -> None:
    created = create_many(people, 200)
    names = [p["resourceName"] for p in created]
    request = people.people().getBatchGet(resourceNames=names, personFields="names")
    assert len(request.uri) > 2048  # the client library will tunnel it
    answer = request.execute()
    assert request.method == "POST"
    assert request.headers["x-http-method-override"] == "GET"
    assert [r["person"]["resourceName"] for r in answer["responses"]] == names
    # The override only stands for a method the path serves.
    refused = sandbox.session().post(
        f"{sandbox.url}v1/people:batchGet",
        headers={"X-HTTP-Method-Override": "DELETE"},
        data="resourceNames=people/c1",
    )
    assert refused.status_code == 405


def test_national_numbers_get_a_canonical_form_in_the_accounts_region(
    people: Any, sandbox: Any
) -> None:
    assert sandbox.ok("GET", "account")["region"] == "US"
    numbers = [{"value": "(650) 253-0000"}, {"value": "020 7946 0002"}, {"value": "12"}]
    us = people.people().createContact(body=person("Us", phoneNumbers=numbers)).execute()
    assert [p.get("canonicalForm") for p in us["phoneNumbers"]] == ["+16502530000", None, None]
    sandbox.ok("PATCH", "account", json={"region": "GB"})
    gb = people.people().createContact(body=person("Gb", phoneNumbers=numbers)).execute()
    assert [p.get("canonicalForm") for p in gb["phoneNumbers"]] == [None, "+442079460002", None]
    assert [p["value"] for p in gb["phoneNumbers"]] == [n["value"] for n in numbers]
    assert sandbox.control("PATCH", "account", json={"region": "XX"}).status_code == 400
