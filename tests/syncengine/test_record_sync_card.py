"""A record's sync card: GET /api/v1/objects/{type}/records/{id}/sync/ and the card on the
record's admin page (per integration the remote twin, last pull and push, open errors, what it
blocks and what blocks it; associations both ways; the sync timeline)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import AssociationDefinition, Property
from crm.services.associations import associate
from crm.services.records import archive_records, create_record
from syncengine.models import Integration
from tests.support.record_sync import blocked_by, linked_integration, open_error, timeline_rows

pytestmark = pytest.mark.django_db


def sync_url(record, object_type: str = "contacts") -> str:
    return f"/api/v1/objects/{object_type}/records/{record.pk}/sync/"


@pytest.fixture
def ada(contacts):
    return create_record(
        object_type=contacts,
        properties={"email": "ada@x.com", "firstname": "Ada", "lastname": "Lovelace"},
        source="user",
    )


def test_the_card_lists_twin_errors_blocking_associations_and_timeline(
    staff_api_client, ada, contacts, companies
):
    # Given Ada linked in one org, two timeline rows, an open error of her own, a company she
    # waits for (her primary company) and a contact waiting for her
    org = linked_integration(ada, name="Acme org", remote_id="003000000000001AAA")
    pull, push = timeline_rows(ada, org, 2)
    own = open_error(ada, org, code="REQUIRED_FIELD_MISSING", message="Last name is required")
    company = create_record(object_type=companies, properties={"name": "Initech"}, source="user")
    waiting = create_record(
        object_type=contacts, properties={"email": "w@x.com", "lastname": "Waits"}, source="user"
    )
    blocked_by(company, [ada], org)
    blocked_by(ada, [waiting], org)
    works_at = AssociationDefinition.objects.filter(
        from_object_type=contacts, to_object_type=companies, label="Primary"
    ).get()
    associate(definition=works_at, from_record=ada, to_record=company, source="user")

    # When staff read her sync card
    response = staff_api_client.get(sync_url(ada))

    # Then it names the twin with a link into Salesforce, both lists and the timeline
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["record"] == ada.pk and body["errors_visible"] is True
    (row,) = body["integrations"]
    assert row["integration_name"] == "Acme org" and row["linked"] is True
    assert row["remote_url"] == (
        "https://acme.my.salesforce.com/lightning/r/Contact/003000000000001AAA/view"
    )
    assert row["last_pulled_at"] is not None and row["last_pushed_at"] is not None
    assert [e["id"] for e in row["open_errors"]][-1] == own.pk
    assert {e["code"] for e in row["open_errors"]} >= {"REQUIRED_FIELD_MISSING"}
    assert [b["record"]["name"] for b in row["blocks"]] == ["Waits"]
    assert [b["record"]["name"] for b in row["blocked_by"]] == ["Initech"]
    assert [(a["label"], a["record"]["name"]) for a in body["outgoing"]] == [
        (str(works_at), "Initech")
    ]
    newest, oldest = body["timeline"]
    assert (newest["stage"], newest["direction"], newest["stage_label"]) == (
        push.pk, "push", "Push updates"
    )  # fmt: skip
    assert newest["changes"] == [
        {"field": "Title", "property": "jobtitle", "label": "Job title", "old": "Title 1",
         "new": "Title 2", "old_text": "Title 1", "new_text": "Title 2", "hidden": False}
    ]  # fmt: skip
    assert oldest["stage"] == pull.pk and oldest["cycle"] == pull.cycle_id


def test_incoming_associations_are_listed_by_name(staff_api_client, ada, contacts, companies):
    company = create_record(object_type=companies, properties={"name": "Initech"}, source="user")
    works_at = AssociationDefinition.objects.filter(
        from_object_type=contacts, to_object_type=companies, label="Primary"
    ).get()
    associate(definition=works_at, from_record=ada, to_record=company, source="user")

    body = staff_api_client.get(sync_url(company, "companies")).json()

    assert [(a["label"], a["record"]["name"]) for a in body["incoming"]] == [
        (str(works_at), "Ada Lovelace")
    ]
    assert body["outgoing"] == []


def test_google_twins_link_to_google_contacts(staff_api_client, ada):
    org = linked_integration(ada, name="Google", remote_id="people/c4242")
    Integration.objects.filter(pk=org.pk).update(kind=Integration.Kind.GOOGLE_CONTACTS)

    (row,) = staff_api_client.get(sync_url(ada)).json()["integrations"]

    assert row["remote_url"] == "https://contacts.google.com/person/c4242"


def test_values_of_properties_hidden_from_the_user_are_left_out(api_client, ada, contacts):
    Property.objects.create(
        object_type=contacts, name="salary", label="Salary", type="number", sensitive=True
    )
    org = linked_integration(ada, name="Org", remote_id="003000000000002AAA")
    (stage,) = timeline_rows(ada, org, 1)
    stage.timeline.update(
        changes=[{"field": "Salary__c", "property": "salary", "old": 1, "new": 2}]
    )

    body = api_client.get(sync_url(ada)).json()

    (change,) = body["timeline"][0]["changes"]
    assert change == {
        "field": "Salary__c", "property": "salary", "label": "Salary", "old": None, "new": None,
        "old_text": "(empty)", "new_text": "(empty)", "hidden": True,
    }  # fmt: skip


def test_users_who_may_not_read_sync_errors_see_none(api_client, ada):
    org = linked_integration(ada, name="Org", remote_id="003000000000003AAA")
    open_error(ada, org, code="REQUIRED_FIELD_MISSING", message="Last name is required")

    body = api_client.get(sync_url(ada)).json()

    assert body["errors_visible"] is False
    assert body["integrations"][0]["open_errors"] == []


def test_reading_needs_the_permission_to_read_records(client, ada):
    from tests.factories import UserFactory

    assert client.get(sync_url(ada)).status_code in (401, 403)
    client.force_login(UserFactory())  # no role: no permission to read records
    assert client.get(sync_url(ada)).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/objects/contacts/records/999999/sync/",
        "/api/v1/objects/nosuchtype/records/1/sync/",
        "/api/v1/objects/contacts/records/99999999999999999999999/sync/",
    ],
)
def test_unknown_records_are_not_found(staff_api_client, ada, path):
    response = staff_api_client.get(path)
    assert response.status_code == 404
    assert "detail" in response.json()


def test_a_record_of_another_type_or_in_the_recycle_bin_is_not_found(
    staff_api_client, ada, contacts
):
    assert staff_api_client.get(sync_url(ada, "companies")).status_code == 404
    archive_records(object_type=contacts, record_ids=[ada.pk], source="user")
    assert staff_api_client.get(sync_url(ada)).status_code == 404


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "501", "1.5", "99999999999999999999999"])
def test_a_bad_limit_is_a_400_naming_it(staff_api_client, ada, limit):
    response = staff_api_client.get(sync_url(ada), {"limit": limit})
    assert response.status_code == 400
    assert response.json()["errors"] == {"limit": ["must be a whole number from 1 to 500"]}


def test_limit_bounds_the_timeline(staff_api_client, ada):
    org = linked_integration(ada, name="Org", remote_id="003000000000004AAA")
    timeline_rows(ada, org, 5)
    body = staff_api_client.get(sync_url(ada), {"limit": "2"}).json()
    assert [t["changes"][0]["new"] for t in body["timeline"]] == ["Title 5", "Title 4"]


def _history(record, size: int) -> None:
    """`size` integrations, each with `size` timeline rows, open errors and blocked records."""
    for n in range(size):
        org = linked_integration(record, name=f"Org {n}", remote_id=f"0030000000000{n:02d}AAA")
        timeline_rows(record, org, size)
        for e in range(size):
            open_error(record, org, code=f"CODE_{e}", message=f"Error {e}")
        waiting = [
            create_record(
                object_type=record.object_type,
                properties={"lastname": f"Waits {n}.{w}"},
                source="user",
            )
            for w in range(size)
        ]
        blocked_by(record, waiting, org)


# The object type and the record (2), then the card's 11: mappings, links, last changes,
# errors, blocked, blocking, associations (2), the schema (2), the timeline.
CARD_QUERIES = 13


@pytest.mark.parametrize("size", [1, 4])
def test_the_card_costs_the_same_queries_whatever_its_size(
    staff_api_client, ada, size, django_assert_num_queries
):
    _history(ada, size)
    staff_api_client.get(sync_url(ada))  # process-wide caches (content types) warmed
    with django_assert_num_queries(CARD_QUERIES):
        response = staff_api_client.get(sync_url(ada))
    body = response.json()
    assert len(body["integrations"]) == size and len(body["timeline"]) == size * size


# The page's own (session, user, time zone, record, schema, inline, the owners the form offers,
# and the bell's two: its notifications and new sync errors: 11) and the card's 11 (as the
# API's, but the permission check is the superuser flag).
ADMIN_PAGE_QUERIES = 22


@pytest.mark.parametrize("size", [1, 4])
def test_the_admin_page_shows_the_card_in_the_same_queries_whatever_its_size(
    client, staff_user, ada, size, django_assert_num_queries
):
    _history(ada, size)
    client.force_login(staff_user)
    url = reverse("admin:crm_record_change", args=[ada.pk])
    client.get(url)  # process-wide caches (content types) warmed
    with django_assert_num_queries(ADMIN_PAGE_QUERIES):
        response = client.get(url)
    html = response.content.decode()
    assert 'id="sync-card"' in html
    assert html.count('class="timeline-row') == size * size
    assert "Title 0 → Title 1" in html
    assert "/lightning/r/Contact/003000000000000AAA/view" in html


def test_changes_read_as_people_read_them(staff_api_client, companies):
    from crm.models import PropertyOption

    company = create_record(object_type=companies, properties={"name": "Acme"}, source="user")
    org = linked_integration(company, name="Org", remote_id="001000000000001AAA")
    (stage,) = timeline_rows(company, org, 1)
    stage.timeline.update(
        changes=[
            {"field": "Industry", "property": "industry", "old": None, "new": "BANKING"},
            {"field": "Custom__c", "property": "", "old": ["a", "b"], "new": True},
        ]
    )
    option = PropertyOption.objects.get(property__object_type=companies, value="BANKING")
    option.label = "Banking & finance"
    option.save(update_fields=["label"])

    body = staff_api_client.get(sync_url(company, "companies")).json()

    industry, custom = body["timeline"][0]["changes"]
    assert (industry["old_text"], industry["new_text"]) == ("(empty)", "Banking & finance")
    assert industry["new"] == "BANKING"
    assert (custom["old_text"], custom["new_text"]) == ("a, b", "Yes")


def test_owner_changes_read_as_the_owners_names(staff_api_client, companies):
    from tests.factories import OwnerFactory

    ada, bob = OwnerFactory(name="Ada Owner"), OwnerFactory(name="Bob Owner", is_active=False)
    company = create_record(object_type=companies, properties={"name": "Acme"}, source="user")
    org = linked_integration(company, name="Org", remote_id="001000000000002AAA")
    (stage,) = timeline_rows(company, org, 1)
    stage.timeline.update(
        changes=[{"field": "OwnerId", "property": "owner", "old": bob.pk, "new": ada.pk}]
    )

    body = staff_api_client.get(sync_url(company, "companies")).json()

    (owner,) = body["timeline"][0]["changes"]
    assert (owner["old"], owner["new"]) == (bob.pk, ada.pk)  # the ids, as stored
    assert (owner["old_text"], owner["new_text"]) == ("Bob Owner (inactive)", "Ada Owner")
