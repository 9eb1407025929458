"""A record's sync card as staff see it, in Debian's headless Chromium driven by Playwright:
a contact synced with the Salesforce sandbox, changed there and pulled back, shows its twin
(linked into Lightning), its associations and a timeline with the pulled change old → new."""

from __future__ import annotations

import pytest

from crm.services.associations import associate
from crm.services.records import create_record
from tests.factories import UserFactory
from tests.support.sync import run_cycle_now

pytestmark = pytest.mark.browser


def test_staff_open_a_record_and_read_its_sync_card(
    live_server, browser_page, salesforce_integration, salesforce_sandbox
):
    from playwright.sync_api import expect

    from crm.models import AssociationDefinition, ObjectType
    from syncengine.models import RecordLink

    # Given a contact of a company, synced, whose title a sales user then changes in Salesforce
    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    UserFactory(username="ops", is_staff=True, is_superuser=True)
    company = create_record(object_type=companies, properties={"name": "Initech"}, source="user")
    contact = create_record(
        object_type=contacts,
        properties={"email": "peter@initech.com", "firstname": "Peter", "lastname": "Gibbons",
                    "jobtitle": "Engineer"},
        source="user",
    )  # fmt: skip
    associate(
        definition=AssociationDefinition.objects.get(
            from_object_type=contacts, to_object_type=companies, label="Primary"
        ),
        from_record=contact,
        to_record=company,
        source="user",
    )
    run_cycle_now(salesforce_integration)
    remote_id = RecordLink.objects.get(record=contact).remote_id
    salesforce_sandbox.update("Contact", remote_id, Title="Consultant")
    assert run_cycle_now(salesforce_integration).status == "success"

    # When staff open the contact's page
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 985})
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/crm/record/{contact.pk}/change/")

    # Then the sync card names the twin with a link into Lightning
    card = page.locator("#sync-card")
    expect(card).to_be_visible()
    link = card.locator("a.remote-link")
    expect(link).to_have_text(f"Contact {remote_id}")
    assert link.get_attribute("href").endswith(f"/lightning/r/Contact/{remote_id}/view")
    expect(card.locator(".open-errors")).to_have_count(0)
    expect(card.locator("ul.outgoing")).to_contain_text("Initech")
    # And the timeline's newest row is the pull of the title, old → new, in its stage
    newest = card.locator("table.sync-timeline tbody tr").first
    expect(newest).to_contain_text("Pull updates")
    expect(newest).to_contain_text("Updated (Remote → Concord)")
    expect(newest.locator("li.change")).to_have_text("Job title: Engineer → Consultant")
    # The push that created the twin is further down, with its stage
    expect(card.locator("table.sync-timeline")).to_contain_text("Push new")

    # And the company's page lists the contact among its incoming associations, by name
    page.goto(f"{live_server.url}/admin/crm/record/{company.pk}/change/")
    expect(page.locator("#sync-card ul.incoming")).to_contain_text("Peter Gibbons")
    # No horizontal overflow at this width
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
