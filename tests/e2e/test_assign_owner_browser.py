"""Reassigning contacts to another owner from the record list, in Debian's headless Chromium."""

from __future__ import annotations

import pytest

from crm import sources
from crm.models import AuditEvent, ObjectType, Record
from crm.services.records import RecordInput, write_records
from tests.factories import OwnerFactory, UserFactory
from tests.support.schema import ensure_standard_schema

pytestmark = pytest.mark.browser


def test_assign_owner_to_selected_contacts(live_server, browser_page):
    page = browser_page
    # given three contacts of Ada's, and a sales lead who signs in
    ensure_standard_schema()
    UserFactory(username="lead", is_staff=True, is_superuser=True)
    ada, bob = OwnerFactory(name="Ada Owner"), OwnerFactory(name="Bob Owner")
    contacts = ObjectType.objects.get(name="contacts")
    ids = write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[RecordInput({"email": f"c{i}@example.com", "owner": ada.pk}) for i in range(3)],
    ).ids
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "lead")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")

    # when they pick two contacts, "Assign owner…", and Bob
    page.goto(f"{live_server.url}/admin/crm/record/?type=contacts")
    for pk in ids[:2]:
        page.check(f"input[name=_selected_action][value='{pk}']")
    page.select_option("select[name=action]", "assign_owner")
    page.click("button[name=index]")
    assert "Assign an owner to 2 contacts" in page.text_content("#content")
    page.select_option("#id_owner", str(bob.pk))
    page.click("#assign")

    # then the list says so, shows Bob's name, and each change is audited
    assert "Assigned Bob Owner to 2 records" in page.text_content(".messagelist")
    assert page.locator("td.field-property_owner", has_text="Bob Owner").count() == 2
    owners = dict(Record.objects.filter(pk__in=ids).values_list("pk", "properties__owner"))
    assert owners == {ids[0]: bob.pk, ids[1]: bob.pk, ids[2]: ada.pk}
    assert AuditEvent.objects.filter(verb="update", target_id__in=ids[:2]).count() == 2
