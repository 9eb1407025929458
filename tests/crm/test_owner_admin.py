"""Owners in the admin: the owner list, the owner column and form field of records, and the
"Assign owner…" action."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin import helpers
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import sources
from crm.models import AuditEvent, Owner, Property, Record
from crm.services.owners import deactivate_owner
from crm.services.records import RecordInput, write_records
from tests.factories import OwnerFactory, UserFactory
from tests.support.roles import grant_role

CHANGELIST = "/admin/crm/record/"
OWNERS = "/admin/crm/owner/"


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def seed(contacts, n, owners, start=0) -> list[int]:
    return write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[
            RecordInput({"email": f"p{i}@example.com", "owner": owners[i % len(owners)].pk})
            for i in range(start, start + n)
        ],
    ).ids


def test_owner_column_shows_names_with_no_query_per_row(staff_client, contacts):
    owners = [OwnerFactory(name="Ada Owner"), OwnerFactory(name="Bob Owner")]
    seed(contacts, 2, owners)
    with CaptureQueriesContext(connection) as few:
        page = staff_client.get(CHANGELIST, {"type": "contacts"})
    few_queries = len(few)  # read now: the next request empties the connection's query log
    html = page.content.decode()
    assert "Owner" in html and "Ada Owner" in html and "Bob Owner" in html

    more = [OwnerFactory() for _ in range(5)]
    seed(contacts, 50, owners + more, start=100)
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get(CHANGELIST, {"type": "contacts"}).status_code == 200
    assert len(many) == few_queries > 0


def test_an_inactive_owner_shows_as_such_in_the_list(staff_client, contacts):
    owner = OwnerFactory(name="Gone Owner")
    seed(contacts, 1, [owner])
    deactivate_owner(owner=owner, source=sources.USER)

    html = staff_client.get(CHANGELIST, {"type": "contacts"}).content.decode()

    assert "Gone Owner (inactive)" in html


def test_record_form_offers_active_owners_and_keeps_an_inactive_current_one(staff_client, contacts):
    active, gone, other_gone = (
        OwnerFactory(name="Active"),
        OwnerFactory(name="Gone"),
        OwnerFactory(name="Other gone", is_active=False),
    )
    [record_id] = seed(contacts, 1, [gone])
    deactivate_owner(owner=gone, source=sources.USER)

    html = staff_client.get(f"{CHANGELIST}{record_id}/change/").content.decode()
    select = re.search(r'<select name="owner".*?</select>', html, re.S).group()

    assert f'value="{active.pk}"' in select
    assert re.search(rf'value="{gone.pk}" selected>Gone \(inactive\)', select)
    assert f'value="{other_gone.pk}"' not in select


def test_record_form_refuses_an_owner_deactivated_meanwhile(staff_client, contacts):
    owner = OwnerFactory(name="Soon gone")
    [record_id] = seed(contacts, 1, [OwnerFactory()])
    page = staff_client.get(f"{CHANGELIST}{record_id}/change/").content.decode()
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    Owner.objects.filter(pk=owner.pk).update(is_active=False)

    response = staff_client.post(
        f"{CHANGELIST}{record_id}/change/?type=contacts",
        {**data, "email": "p0@example.com", "owner": owner.pk},
    )

    assert response.status_code == 200  # the form again, with the error on its field
    assert "Select a valid choice" in response.content.decode()
    assert Record.objects.get(pk=record_id).properties["owner"] != owner.pk


def test_owner_admin_lists_counts_filters_and_searches(staff_client, contacts):
    ada, bob = OwnerFactory(name="Ada", email="ada@x.example"), OwnerFactory(name="Bob")
    seed(contacts, 3, [ada])
    deactivate_owner(owner=bob, source=sources.USER)

    with CaptureQueriesContext(connection) as queries:
        html = staff_client.get(OWNERS).content.decode()
    # Read before the next request: a request empties the connection's query log.
    counting = [q for q in queries.captured_queries if '"crm_record"' in q["sql"]]
    active = staff_client.get(OWNERS, {"is_active__exact": "1"}).content.decode()
    found = staff_client.get(OWNERS, {"q": "ada@x"}).content.decode()

    row = re.search(r"<tr>.*?ada@x\.example.*?</tr>", html, re.S).group()
    assert '<td class="field-records_owned">3</td>' in row
    assert "Bob" in html and "Bob" not in active and "Bob" not in found
    assert len(counting) == 1  # the page's counts at once


def test_owner_admin_add_normalises_the_email_and_audits(staff_client, db):
    response = staff_client.post(
        f"{OWNERS}add/", {"name": "Ada", "email": "Ada@Example.COM", "is_active": "on"}
    )

    assert response.status_code == 302
    assert Owner.objects.get().email == "ada@example.com"
    assert AuditEvent.objects.filter(verb="create_owner").count() == 1
    duplicate = staff_client.post(f"{OWNERS}add/", {"name": "Ada 2", "email": "ADA@example.com"})
    assert duplicate.status_code == 200 and Owner.objects.count() == 1


def test_assign_owner_action_shows_a_page_then_reassigns_audited(staff_client, contacts):
    old, new = OwnerFactory(name="Old"), OwnerFactory(name="New")
    ids = seed(contacts, 3, [old])
    selected = {"action": "assign_owner", helpers.ACTION_CHECKBOX_NAME: ids[:2]}

    page = staff_client.post(f"{CHANGELIST}?type=contacts", selected)
    done = staff_client.post(
        f"{CHANGELIST}?type=contacts", {**selected, "owner": new.pk, "post": "yes"}, follow=True
    )

    assert page.status_code == 200 and "Assign an owner to 2 contacts" in page.content.decode()
    assert "Assigned New to 2 records" in done.content.decode()
    owners = dict(Record.objects.filter(pk__in=ids).values_list("pk", "properties__owner"))
    assert owners == {ids[0]: new.pk, ids[1]: new.pk, ids[2]: old.pk}
    events = AuditEvent.objects.filter(verb="update", target_id__in=ids, source="user")
    assert sorted(e.target_id for e in events) == ids[:2]
    changed = Record.objects.get(pk=ids[0]).property_changes["owner"]
    assert changed["source"] == "user"


def test_assign_owner_action_refuses_an_inactive_owner(staff_client, contacts):
    old, gone = OwnerFactory(), OwnerFactory(is_active=False)
    ids = seed(contacts, 1, [old])

    page = staff_client.post(
        f"{CHANGELIST}?type=contacts",
        {"action": "assign_owner", helpers.ACTION_CHECKBOX_NAME: ids, "owner": gone.pk,
         "post": "yes"},
    )  # fmt: skip

    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert Record.objects.get(pk=ids[0]).properties["owner"] == old.pk


def test_merge_page_shows_owners_by_name(staff_client, contacts):
    ada, bob = OwnerFactory(name="Ada Owner"), OwnerFactory(name="Bob Owner")
    winner, loser = seed(contacts, 1, [ada]) + seed(contacts, 1, [bob], start=1)

    page = staff_client.post(
        f"{CHANGELIST}?type=contacts",
        {"action": "merge_selected", helpers.ACTION_CHECKBOX_NAME: [winner, loser]},
    )

    row = re.search(r'data-property="owner">(.*?)</tr>', page.content.decode(), re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", row) == ["Ada Owner", "Bob Owner"]


def test_owner_admin_counts_only_records_whose_owner_the_user_may_see(
    client, staff_client, contacts, companies
):
    ada = OwnerFactory(name="Ada", email="ada@x.example")
    seed(contacts, 2, [ada])
    write_records(
        object_type=companies,
        mode="create",
        source=sources.API,
        inputs=[RecordInput({"name": "Acme", "owner": ada.pk})],
    )
    admin_user = grant_role(UserFactory(is_staff=True), "Admin")
    Property.objects.filter(object_type=companies, name="owner").update(restricted=True)

    def count_seen() -> str:
        html = client.get(OWNERS).content.decode()
        row = re.search(r"<tr>.*?ada@x\.example.*?</tr>", html, re.S).group()
        return re.search(r'<td class="field-records_owned">(\d+)</td>', row).group(1)

    assert count_seen() == "3"  # the superuser sees every owner property
    client.force_login(admin_user)
    assert count_seen() == "2"  # the companies' owner is restricted to others
