"""contactGroups: system groups, memberships on persons, members:modify, user groups."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.support.google_sandbox import GoogleSandbox, error_of, list_connections, person, settle


def group_ids(person_: dict) -> set[str]:
    return {m["contactGroupMembership"]["contactGroupId"] for m in person_.get("memberships", [])}


def test_system_groups_are_listed(people: Any) -> None:
    answer = people.contactGroups().list().execute()
    groups = {g["resourceName"]: g for g in answer["contactGroups"]}
    assert groups["contactGroups/myContacts"]["groupType"] == "SYSTEM_CONTACT_GROUP"
    assert groups["contactGroups/myContacts"]["formattedName"] == "My Contacts"
    assert groups["contactGroups/starred"]["name"] == "starred"
    assert answer["totalItems"] == len(groups)


def test_starring_shows_in_memberships_and_group_members(people: Any) -> None:
    one = people.people().createContact(body=person("One")).execute()
    two = people.people().createContact(body=person("Two")).execute()
    answer = (
        people.contactGroups()
        .members()
        .modify(
            resourceName="contactGroups/starred",
            body={"resourceNamesToAdd": [one["resourceName"], "people/c404"]},
        )
        .execute()
    )
    assert answer == {"notFoundResourceNames": ["people/c404"]}
    starred = (
        people.people().get(resourceName=one["resourceName"], personFields="memberships").execute()
    )
    assert group_ids(starred) == {"myContacts", "starred"}
    assert starred["etag"] != one["etag"]  # a membership change is a change of the contact
    group = (
        people.contactGroups().get(resourceName="contactGroups/starred", maxMembers=10).execute()
    )
    assert group["memberResourceNames"] == [one["resourceName"]]
    assert group["memberCount"] == 1
    plain = people.contactGroups().get(resourceName="contactGroups/myContacts").execute()
    assert plain["memberCount"] == 2 and "memberResourceNames" not in plain  # maxMembers 0
    assert two["resourceName"]


def test_starring_by_the_user_reaches_the_sync(people: Any, sandbox: GoogleSandbox) -> None:
    created = people.people().createContact(body=person("Star")).execute()
    settle(sandbox)
    first = list_connections(people, "memberships", requestSyncToken=True)
    sandbox.ok("POST", f"contacts/{created['resourceName'].split('/')[1]}/star")
    settle(sandbox)
    changes = list_connections(
        people, "memberships", syncToken=first["nextSyncToken"], requestSyncToken=True
    )
    assert [group_ids(c) for c in changes["connections"]] == [{"myContacts", "starred"}]


def test_removing_the_last_group_is_refused(people: Any) -> None:
    created = people.people().createContact(body=person("Last")).execute()
    answer = (
        people.contactGroups()
        .members()
        .modify(
            resourceName="contactGroups/myContacts",
            body={"resourceNamesToRemove": [created["resourceName"]]},
        )
        .execute()
    )
    assert answer == {"canNotRemoveLastContactGroupResourceNames": [created["resourceName"]]}


def test_user_groups_and_leaving_my_contacts(people: Any) -> None:
    group = people.contactGroups().create(body={"contactGroup": {"name": "Customers"}}).execute()
    assert group["groupType"] == "USER_CONTACT_GROUP"
    with pytest.raises(HttpError) as duplicate:
        people.contactGroups().create(body={"contactGroup": {"name": "Customers"}}).execute()
    assert duplicate.value.status_code == 409
    labelled = people.people().createContact(body=person("Labelled")).execute()
    people.contactGroups().members().modify(
        resourceName=group["resourceName"], body={"resourceNamesToAdd": [labelled["resourceName"]]}
    ).execute()
    # Now in a label, the contact can leave myContacts (the connector's "only myContacts" filter).
    answer = (
        people.contactGroups()
        .members()
        .modify(
            resourceName="contactGroups/myContacts",
            body={"resourceNamesToRemove": [labelled["resourceName"]]},
        )
        .execute()
    )
    assert answer == {}
    got = (
        people.people()
        .get(resourceName=labelled["resourceName"], personFields="memberships")
        .execute()
    )
    assert group_ids(got) == {group["resourceName"].split("/")[1]}


def test_memberships_on_create_and_deprecated_groups(people: Any) -> None:
    starred = (
        people.people()
        .createContact(
            body=person(
                "Both",
                memberships=[
                    {
                        "contactGroupMembership": {
                            "contactGroupResourceName": "contactGroups/myContacts"
                        }
                    },
                    {
                        "contactGroupMembership": {
                            "contactGroupResourceName": "contactGroups/starred"
                        }
                    },
                ],
            ),
            personFields="memberships",
        )
        .execute()
    )
    assert group_ids(starred) == {"myContacts", "starred"}
    created = people.people().createContact(body=person("Friend")).execute()
    with pytest.raises(HttpError) as deprecated:
        people.contactGroups().members().modify(
            resourceName="contactGroups/friends",
            body={"resourceNamesToAdd": [created["resourceName"]]},
        ).execute()
    assert deprecated.value.status_code == 400
    assert "deprecated system contact group" in error_of(deprecated.value)["message"]
    with pytest.raises(HttpError) as unknown:
        people.contactGroups().get(resourceName="contactGroups/nope").execute()
    assert unknown.value.status_code == 404


def test_clearing_a_contacts_memberships_is_refused(people: Any) -> None:
    created = people.people().createContact(body=person("Member")).execute()
    with pytest.raises(HttpError) as cleared:
        people.people().updateContact(
            resourceName=created["resourceName"],
            updatePersonFields="memberships",
            body={"etag": created["etag"], "memberships": []},
        ).execute()
    assert cleared.value.status_code == 400
    assert error_of(cleared.value)["status"] == "INVALID_ARGUMENT"
    got = people.people().get(resourceName=created["resourceName"], personFields="memberships")
    assert group_ids(got.execute()) == {"myContacts"}


def test_contact_groups_list_honours_sync_tokens(people: Any) -> None:
    groups = people.contactGroups()
    kept = groups.create(body={"contactGroup": {"name": "Kept"}}).execute()
    renamed = groups.create(body={"contactGroup": {"name": "Renamed"}}).execute()
    dropped = groups.create(body={"contactGroup": {"name": "Dropped"}}).execute()
    full = groups.list(pageSize=1000).execute()
    full_names = [g["name"] for g in full["contactGroups"]]
    assert {"Kept", "Renamed", "Dropped", "myContacts"} <= set(full_names)
    nothing = groups.list(syncToken=full["nextSyncToken"]).execute()
    assert "contactGroups" not in nothing and nothing["nextSyncToken"]
    groups.update(
        resourceName=renamed["resourceName"],
        body={"contactGroup": {"name": "Now renamed"}, "updateGroupFields": "name"},
    ).execute()
    groups.delete(resourceName=dropped["resourceName"]).execute()
    added = groups.create(body={"contactGroup": {"name": "Added"}}).execute()
    changes = groups.list(syncToken=nothing["nextSyncToken"]).execute()
    by_name = {g["resourceName"]: g for g in changes["contactGroups"]}
    assert list(by_name) == [
        renamed["resourceName"], dropped["resourceName"], added["resourceName"]
    ]  # fmt: skip
    assert kept["resourceName"] not in by_name
    assert by_name[renamed["resourceName"]]["name"] == "Now renamed"
    assert by_name[dropped["resourceName"]]["metadata"]["deleted"] is True
    assert "deleted" not in by_name[added["resourceName"]]["metadata"]
    assert "contactGroups" not in groups.list(syncToken=changes["nextSyncToken"]).execute()
    with pytest.raises(HttpError) as forged:
        groups.list(syncToken="forged").execute()
    assert error_of(forged.value)["details"][0]["reason"] == "EXPIRED_SYNC_TOKEN"
