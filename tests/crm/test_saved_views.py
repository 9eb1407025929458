"""Saved views of records (SPEC T-2): the service's checks, owner scoping, "Used in" (P-8), and
the record list that saves, reopens and clears them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import sources
from crm.errors import PropertyInUseError, SavedViewError
from crm.models import Property, SavedView
from crm.selectors import list_saved_views
from crm.services.records import RecordInput, write_records
from crm.services.saved_views import create_saved_view, delete_saved_view, rename_saved_view
from crm.services.schema import create_property, delete_property
from crm.usage import list_property_usages
from tests.factories import UserFactory
from tests.support.roles import grant_role

CHANGELIST = "/admin/crm/record/"
SAVE_URL = "/admin/crm/record/save-view/"


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def member(db):
    """A staff user who is not a superuser: the Admin role."""
    return grant_role(UserFactory(is_staff=True), "Admin")


def seed_contacts(contacts):
    write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[
            RecordInput({"email": "cu@example.com", "lifecyclestage": "customer"}),
            RecordInput({"email": "le@example.com", "lifecyclestage": "lead"}),
            RecordInput({"email": "ot@example.com", "lifecyclestage": "opportunity"}),
        ],
    )


# --- the service ------------------------------------------------------------------------------


def test_a_view_is_saved_with_its_filter_in_stored_form(staff_user, contacts):
    view = create_saved_view(
        owner=staff_user,
        object_type=contacts,
        name="  Customers   named Ann ",
        query="q=ann&p=3&o=-2&type=contacts&p_lifecyclestage=customer",
    )
    view.refresh_from_db()
    assert view.name == "Customers named Ann"
    # Sorted, without paging, ordering or the object type (stored beside it).
    assert view.query == "p_lifecyclestage=customer&q=ann"
    assert (view.owner, view.object_type) == (staff_user, contacts)


def test_a_name_is_required_and_unique_per_user_and_object_type(staff_user, contacts, companies):
    create_saved_view(owner=staff_user, object_type=contacts, name="Mine", query="")
    with pytest.raises(SavedViewError, match="Give the view a name"):
        create_saved_view(owner=staff_user, object_type=contacts, name="   ", query="")
    with pytest.raises(SavedViewError, match="already have a view of contacts named “MINE”"):
        create_saved_view(owner=staff_user, object_type=contacts, name="MINE", query="")
    assert SavedView.objects.count() == 1
    # Another object type, or another user, may use the name.
    create_saved_view(owner=staff_user, object_type=companies, name="Mine", query="")
    create_saved_view(owner=UserFactory(), object_type=contacts, name="Mine", query="")
    assert SavedView.objects.count() == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("colour=red", "“colour” is not a filter of the contacts list"),
        ("p_nosuch=x", "Contacts have no property “nosuch”"),
        ("p_lifecyclestage=astronaut", "“astronaut” is not an option of “Lifecycle stage”"),
        ("p_firstname=Ann", "filters on dropdown properties only; “First name” is single-line"),
        ("p_lifecyclestage=lead&p_lifecyclestage=customer", "“p_lifecyclestage” is given twice"),
        ("id__in=1,two", "record ids of the filter must be whole numbers"),
        ("created_at__gte=2026-13-01", "“2026-13-01” is not a date"),
        ("sync_error=999999999", "The sync error “999999999” does not exist"),
        ("q=" + "x" * 201, "The search is too long"),
    ],
)
def test_a_filter_that_cannot_apply_is_refused(staff_user, contacts, query, message):
    with pytest.raises(SavedViewError, match=message):
        create_saved_view(owner=staff_user, object_type=contacts, name="Bad", query=query)
    assert not SavedView.objects.exists()


def test_a_restricted_property_is_no_filter_for_who_may_not_see_it(member, contacts):
    prop = Property.objects.get(object_type=contacts, name="lifecyclestage")
    prop.restricted = True
    prop.save()
    with pytest.raises(SavedViewError, match="Contacts have no property “lifecyclestage”"):
        create_saved_view(
            owner=member, object_type=contacts, name="X", query="p_lifecyclestage=lead"
        )


def test_rename_and_delete_are_the_owners(staff_user, member, contacts):
    view = create_saved_view(owner=member, object_type=contacts, name="Leads", query="")
    create_saved_view(owner=member, object_type=contacts, name="Customers", query="")
    with pytest.raises(SavedViewError, match="already have a view of contacts named “customers”"):
        rename_saved_view(view=view, name="customers", actor=member)
    other = UserFactory(is_staff=True)
    with pytest.raises(SavedViewError, match="Only its owner"):
        rename_saved_view(view=view, name="Mine now", actor=other)
    with pytest.raises(SavedViewError, match="Only its owner"):
        delete_saved_view(view=view, actor=other)
    view.refresh_from_db()
    assert view.name == "Leads"
    rename_saved_view(view=view, name="Hot leads", actor=member)
    assert SavedView.objects.get(pk=view.pk).name == "Hot leads"
    # A superuser may remove someone's view (it can keep a property from being deleted).
    delete_saved_view(view=view, actor=staff_user)
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Customers"]


def test_each_user_lists_only_their_own_views(staff_user, member, contacts, companies):
    create_saved_view(owner=member, object_type=contacts, name="B", query="")
    create_saved_view(owner=member, object_type=contacts, name="A", query="")
    create_saved_view(owner=member, object_type=companies, name="C", query="")
    create_saved_view(owner=staff_user, object_type=contacts, name="Theirs", query="")
    assert [v.name for v in list_saved_views(owner=member, object_type=contacts)] == ["A", "B"]
    assert {v.name for v in list_saved_views(owner=member)} == {"A", "B", "C"}


# --- "Used in" --------------------------------------------------------------------------------


def test_a_saved_view_is_used_in_the_properties_it_filters_on(
    staff_user, contacts, staff_api_client
):
    view = create_saved_view(
        owner=staff_user,
        object_type=contacts,
        name="Customers",
        query="p_lifecyclestage=customer",
    )
    stage = Property.objects.get(object_type=contacts, name="lifecyclestage")
    lead_status = Property.objects.get(object_type=contacts, name="lead_status")
    [usage] = list_property_usages(stage, viewer=staff_user)
    assert usage.kind == "saved_view"
    assert usage.label == "Saved view “Customers”"
    assert usage.url == f"/admin/crm/savedview/{view.pk}/change/"
    assert list_property_usages(lead_status, viewer=staff_user) == []
    # The API and the property's admin page show it; deleting the property is refused.
    body = staff_api_client.get(
        "/api/v1/object-types/contacts/properties/lifecyclestage/usage/"
    ).json()
    assert [u["kind"] for u in body["used_in"]] == ["saved_view"]


def test_a_property_a_saved_view_filters_on_is_not_deleted(staff_user, contacts):
    tier = create_property(
        object_type=contacts,
        name="tier",
        label="Tier",
        type=Property.Type.ENUMERATION,
        options=[{"value": "gold", "label": "Gold"}, {"value": "tin", "label": "Tin"}],
        source=sources.USER,
    )
    view = create_saved_view(
        owner=staff_user, object_type=contacts, name="Gold", query="p_tier=gold"
    )
    other = UserFactory(is_staff=True)
    theirs = create_saved_view(owner=other, object_type=contacts, name="Tin", query="p_tier=tin")
    # The refusal names the actor's own views and counts the others'.
    with pytest.raises(
        PropertyInUseError, match=r"Used in: Saved view “Gold”; 1 saved view of other users$"
    ):
        delete_property(prop=tier, actor=staff_user, source=sources.USER)
    delete_saved_view(view=view, actor=staff_user)
    delete_saved_view(view=theirs, actor=other)
    delete_property(prop=tier, source=sources.USER)
    assert not Property.objects.filter(pk=tier.pk).exists()


def test_the_property_page_lists_the_saved_views(staff_client, staff_user, contacts):
    create_saved_view(
        owner=staff_user, object_type=contacts, name="Leads", query="p_lifecyclestage=lead"
    )
    stage = Property.objects.get(object_type=contacts, name="lifecyclestage")
    html = staff_client.get(f"/admin/crm/property/{stage.pk}/change/").content.decode()
    assert "Saved view “Leads”" in html


def test_other_users_views_are_counted_not_named(
    staff_client, staff_user, member, contacts, staff_api_client
):
    create_saved_view(
        owner=staff_user, object_type=contacts, name="Mine", query="p_lifecyclestage=lead"
    )
    for name in ("Secret plan", "Layoffs"):
        create_saved_view(
            owner=member, object_type=contacts, name=name, query="p_lifecyclestage=lead"
        )
    stage = Property.objects.get(object_type=contacts, name="lifecyclestage")
    body = staff_api_client.get(
        "/api/v1/object-types/contacts/properties/lifecyclestage/usage/"
    ).json()
    assert body["used_in"] == [
        {"kind": "saved_view", "label": "Saved view “Mine”", "url": body["used_in"][0]["url"]},
        {"kind": "saved_view", "label": "2 saved views of other users", "url": ""},
    ]
    html = staff_client.get(f"/admin/crm/property/{stage.pk}/change/").content.decode()
    assert "Saved view “Mine”" in html and "2 saved views of other users" in html
    for secret in ("Secret plan", "Layoffs", f"of {member.get_username()}"):
        assert secret not in html and secret not in str(body)


# --- the record list --------------------------------------------------------------------------


def test_the_list_is_titled_by_its_object_type_and_shows_option_labels(staff_client, contacts):
    seed_contacts(contacts)
    html = staff_client.get(f"{CHANGELIST}?type=contacts").content.decode()
    assert "<h1>Contacts</h1>" in html and "Select record to change" not in html
    # Option labels in the column and the filter, the values only in links.
    assert '<td class="field-property_lifecyclestage">Opportunity</td>' in html
    assert ">opportunity<" not in html
    assert "p_lifecyclestage=opportunity" in html


def test_record_pages_are_titled_by_their_object_type(staff_client, contacts):
    seed_contacts(contacts)
    record = contacts.records.first()
    change = staff_client.get(f"{CHANGELIST}{record.pk}/change/").content.decode()
    assert "<h1>Change contact</h1>" in change and "Change record" not in change
    add = staff_client.get(f"{CHANGELIST}add/?type=companies").content.decode()
    assert "<h1>Add company</h1>" in add


def test_clear_all_filters_keeps_the_object_type(staff_client, companies):
    html = staff_client.get(
        f"{CHANGELIST}?type=companies&p_industry=BANKING&q=acme"
    ).content.decode()
    assert 'href="?q=acme&amp;type=companies">&#10006; Clear all filters' in html
    unfiltered = staff_client.get(f"{CHANGELIST}?type=companies").content.decode()
    assert "Clear all filters" not in unfiltered


def test_save_the_list_as_a_view_and_reopen_it(staff_client, staff_user, contacts):
    seed_contacts(contacts)
    page = staff_client.get(f"{CHANGELIST}?type=contacts&p_lifecyclestage=customer")
    assert 'id="save-view-form"' in page.content.decode()
    response = staff_client.post(
        SAVE_URL,
        {"type": "contacts", "query": "p_lifecyclestage=customer", "name": "Customers"},
    )
    view = SavedView.objects.get()
    assert (view.owner, view.query) == (staff_user, "p_lifecyclestage=customer")
    assert response.status_code == 302
    assert response.url == f"{CHANGELIST}?type=contacts&p_lifecyclestage=customer&view={view.pk}"
    html = staff_client.get(response.url).content.decode()
    assert "Saved view “Customers”" in html
    assert "cu@example.com" in html and "le@example.com" not in html
    # The Views menu of the contacts list reopens it; the companies list has none.
    listing = staff_client.get(f"{CHANGELIST}?type=contacts").content.decode()
    assert f"p_lifecyclestage=customer&amp;view={view.pk}" in listing
    assert "Customers" not in staff_client.get(f"{CHANGELIST}?type=companies").content.decode()


def test_a_refused_view_says_why_and_keeps_the_list(staff_client, staff_user, contacts):
    create_saved_view(owner=staff_user, object_type=contacts, name="Taken", query="")
    response = staff_client.post(
        SAVE_URL, {"type": "contacts", "query": "p_lifecyclestage=lead", "name": "taken"}
    )
    assert response.status_code == 302
    assert response.url == f"{CHANGELIST}?type=contacts&p_lifecyclestage=lead"
    html = staff_client.get(response.url).content.decode()
    assert "You already have a view of contacts named “taken”" in html
    assert SavedView.objects.count() == 1
    bad = staff_client.post(SAVE_URL, {"type": "nosuch", "query": "", "name": "X"})
    assert bad.status_code == 404
    assert staff_client.get(SAVE_URL + "?type=contacts").status_code == 405


def test_the_views_admin_shows_each_user_their_own(client, member, staff_user, contacts):
    mine = create_saved_view(owner=member, object_type=contacts, name="Mine", query="")
    theirs = create_saved_view(owner=staff_user, object_type=contacts, name="Theirs", query="")
    client.force_login(member)
    listing = client.get("/admin/crm/savedview/").content.decode()
    assert "Mine" in listing and "Theirs" not in listing
    assert client.get(f"/admin/crm/savedview/{theirs.pk}/change/").status_code == 302
    response = client.post(f"/admin/crm/savedview/{mine.pk}/change/", {"name": "Renamed"})
    assert response.status_code == 302
    assert SavedView.objects.get(pk=mine.pk).name == "Renamed"
    client.post(f"/admin/crm/savedview/{mine.pk}/delete/", {"post": "yes"})
    assert list(SavedView.objects.all()) == [theirs]


# --- the API ----------------------------------------------------------------------------------


def test_the_api_creates_lists_renames_and_deletes_ones_own_views(api_client, user, contacts):
    created = api_client.post(
        "/api/v1/views/",
        {"name": "Leads", "object_type": "contacts", "query": "p_lifecyclestage=lead"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["name"], body["object_type"], body["query"]) == (
        "Leads",
        "contacts",
        "p_lifecyclestage=lead",
    )
    view_id = body["id"]
    assert SavedView.objects.get(pk=view_id).owner == user
    theirs = create_saved_view(owner=UserFactory(), object_type=contacts, name="Theirs", query="")

    listed = api_client.get("/api/v1/views/", {"object_type": "contacts"}).json()["results"]
    assert [v["name"] for v in listed] == ["Leads"]
    assert api_client.get(f"/api/v1/views/{theirs.pk}/").status_code == 404
    assert api_client.delete(f"/api/v1/views/{theirs.pk}/").status_code == 404

    renamed = api_client.patch(f"/api/v1/views/{view_id}/", {"name": "Hot leads"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Hot leads"
    for body in (["name"], "name"):  # JSON, but not an object
        not_object = api_client.patch(f"/api/v1/views/{view_id}/", body, format="json")
        assert not_object.status_code == 400 and "JSON object" in str(not_object.json())
    fixed = api_client.patch(f"/api/v1/views/{view_id}/", {"query": "q=x"}, format="json")
    assert fixed.status_code == 400 and "filter and object type are fixed" in str(fixed.json())
    assert SavedView.objects.get(pk=view_id).query == "p_lifecyclestage=lead"

    assert api_client.delete(f"/api/v1/views/{view_id}/").status_code == 204
    assert list(SavedView.objects.all()) == [theirs]


def test_the_api_refuses_a_bad_view_clearly(api_client, user, contacts):
    create_saved_view(owner=user, object_type=contacts, name="Taken", query="")
    cases = [
        ({"name": "X", "object_type": "contacts", "query": "p_lifecyclestage=astronaut"},
         "“astronaut” is not an option of “Lifecycle stage”"),
        ({"name": "taken", "object_type": "contacts", "query": ""},
         "You already have a view of contacts named “taken”"),
        ({"name": " ", "object_type": "contacts", "query": ""}, "Give the view a name"),
    ]  # fmt: skip
    for payload, message in cases:
        response = api_client.post("/api/v1/views/", payload, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_saved_view"
        assert message in response.json()["detail"]
    unknown_type = api_client.post(
        "/api/v1/views/", {"name": "X", "object_type": "nosuch", "query": ""}, format="json"
    )
    assert unknown_type.status_code == 400 and "object_type" in unknown_type.json()["errors"]
    assert SavedView.objects.count() == 1


def test_the_views_menu_costs_the_same_however_many_views(staff_client, staff_user, contacts):
    seed_contacts(contacts)
    create_saved_view(owner=staff_user, object_type=contacts, name="View 0", query="")
    with CaptureQueriesContext(connection) as one:
        staff_client.get(f"{CHANGELIST}?type=contacts")
    for i in range(1, 8):
        create_saved_view(owner=staff_user, object_type=contacts, name=f"View {i}", query=f"q=a{i}")
    with CaptureQueriesContext(connection) as eight:
        html = staff_client.get(f"{CHANGELIST}?type=contacts").content.decode()
    assert "View 7" in html
    assert len(eight) == len(one)
