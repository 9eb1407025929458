"""Filtering records by owner: the API's `owner=`, the admin's Owner filter ("My records",
"No owner") and saved views, with the permissions of who asks."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm import sources
from crm.errors import SavedViewError
from crm.models import Property
from crm.services.records import RecordInput, create_record, write_records
from crm.services.saved_views import create_saved_view
from crm.services.schema import create_object_type
from crm.usage import list_property_usages
from tests.factories import OwnerFactory, UserFactory
from tests.support.roles import grant_role

RECORDS = "/api/v1/objects/contacts/records/"
CHANGELIST = "/admin/crm/record/"


@pytest.fixture
def team(contacts, user):
    """`user` is Ada, an owner; Bob is another; one contact each, and one with no owner."""
    ada = OwnerFactory(name="Ada Owner", user=user)
    bob = OwnerFactory(name="Bob Owner")
    write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[
            RecordInput({"email": "ada-1@example.com", "owner": ada.pk}),
            RecordInput({"email": "bob-1@example.com", "owner": bob.pk}),
            RecordInput({"email": "nobody@example.com"}),
        ],
    )
    return ada, bob


def emails(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return sorted(r["properties"]["email"] for r in response.json()["results"])


def test_api_filters_by_owner_id_me_and_none(api_client, team):
    _, bob = team

    assert emails(api_client.get(RECORDS, {"owner": bob.pk})) == ["bob-1@example.com"]
    assert emails(api_client.get(RECORDS, {"owner": "me"})) == ["ada-1@example.com"]
    assert emails(api_client.get(RECORDS, {"owner": "none"})) == ["nobody@example.com"]


def test_api_owner_me_for_a_login_with_no_owner_is_an_empty_list(team):
    client = APIClient()
    client.force_authenticate(grant_role(UserFactory(), "User"))

    assert emails(client.get(RECORDS, {"owner": "me"})) == []


@pytest.mark.parametrize("value", ["someone", "-1", "0", "1.5", ""])
def test_api_owner_filter_that_is_no_owner_is_a_400(api_client, team, value):
    response = api_client.get(RECORDS, {"owner": value})

    assert response.status_code == 400
    assert "owner" in response.json()["errors"]


def test_api_owner_filter_refused_when_the_owner_is_hidden_from_the_user(api_client, team):
    Property.objects.filter(name="owner", object_type__name="contacts").update(restricted=True)

    response = api_client.get(RECORDS, {"owner": "me"})

    assert response.status_code == 400
    assert response.json()["errors"]["owner"] == ["Contacts have no owner to filter on"]


def test_admin_my_records_and_no_owner(client, team, user):
    _, bob = team
    staff = grant_role(UserFactory(is_staff=True), "Admin")
    OwnerFactory(name="Staff Owner", user=staff)
    client.force_login(staff)

    mine = client.get(CHANGELIST, {"type": "contacts", "owner": "me"}).content.decode()
    nobody = client.get(CHANGELIST, {"type": "contacts", "owner": "none"}).content.decode()
    bobs = client.get(CHANGELIST, {"type": "contacts", "owner": bob.pk}).content.decode()

    assert "My records" in mine and "No owner" in mine and "Bob Owner" in mine
    assert "ada-1@example.com" not in mine and "bob-1@example.com" not in mine
    assert "nobody@example.com" in nobody and "ada-1@example.com" not in nobody
    assert "bob-1@example.com" in bobs and "ada-1@example.com" not in bobs


def test_admin_bad_owner_filter_shows_the_whole_list_flagged(client, team, staff_user):
    client.force_login(staff_user)

    response = client.get(CHANGELIST, {"type": "contacts", "owner": "someone"})

    # Django's admin answers a bad filter value by redirecting to the list with ?e=1.
    assert response.status_code == 302 and "e=1" in response.url


def test_a_saved_view_keeps_owner_me_and_is_used_in_the_owner_property(user, contacts, team):
    view = create_saved_view(owner=user, object_type=contacts, name="Mine", query="owner=me")

    assert view.query == "owner=me"
    usages = list_property_usages(
        Property.objects.get(object_type=contacts, name="owner"), viewer=user
    )
    assert [u.label for u in usages] == ["Saved view “Mine”"]


@pytest.mark.parametrize("query", ["owner=someone", "owner=999999"])
def test_a_saved_view_refuses_an_owner_that_is_not_one(user, contacts, query):
    with pytest.raises(SavedViewError, match="does not exist"):
        create_saved_view(owner=user, object_type=contacts, name="Bad", query=query)


@pytest.fixture
def text_owner_type(crm_schema):
    """A custom type whose `owner` is a text property (made before owners existed, which
    migration 0010 leaves as it is), with a record whose text looks like an owner id."""
    projects = create_object_type(
        name="projects", label_singular="Project", label_plural="Projects", source=sources.API
    )
    Property.objects.filter(object_type=projects, name="owner").update(type=Property.Type.TEXT)
    owner = OwnerFactory()
    create_record(
        object_type=projects, properties={"name": "P", "owner": str(owner.pk)}, source=sources.API
    )
    return projects, owner


@pytest.mark.parametrize("value", ["owner_id", "me", "none"])
def test_api_owner_filter_on_an_owner_property_of_another_type_is_a_400(
    api_client, text_owner_type, value
):
    _, owner = text_owner_type
    wanted = owner.pk if value == "owner_id" else value
    response = api_client.get("/api/v1/objects/projects/records/", {"owner": wanted})

    assert response.status_code == 400
    assert response.json()["errors"]["owner"] == ["Projects have no owner to filter on"]


def test_a_saved_view_refuses_the_owner_filter_on_an_owner_property_of_another_type(
    user, text_owner_type
):
    projects, owner = text_owner_type
    with pytest.raises(SavedViewError, match="no property “owner” to filter on"):
        create_saved_view(owner=user, object_type=projects, name="P", query=f"owner={owner.pk}")
