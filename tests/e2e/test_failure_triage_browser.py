"""Triage from the sync status dashboard, in Debian's headless Chromium driven by Playwright:
a stage's failed count leads to the errors that stage reported, and an association error's
cause link leads to the blocking record's own error."""

import re

import pytest

from tests.factories import UserFactory
from tests.support.sync import member_of_a_refused_company, run_cycle_now, stage_of

pytestmark = pytest.mark.browser


@pytest.fixture
def blocked_contact(salesforce_integration):
    """One cycle against the sandbox: a company its trigger refuses, a contact waiting for it."""
    from crm.models import ObjectType

    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    company, contact = member_of_a_refused_company(
        contacts, companies, email="wait@x.com", lastname="Waiting"
    )
    cycle = run_cycle_now(salesforce_integration)
    assert cycle.status == "success", cycle.status
    return cycle, company, contact


def test_from_a_failed_count_to_the_blocking_records_error(
    live_server, browser_page, salesforce_integration, blocked_contact
):
    from playwright.sync_api import expect

    from syncengine.models import SyncError

    cycle, company, contact = blocked_contact
    fks = stage_of(cycle, "update_foreign_keys")
    assert fks.failed == 1  # the waiting contact failed; it was not "skipped"
    association = SyncError.objects.get(category="associations", status="open")
    assert list(association.affected_records.values_list("pk", flat=True)) == [contact.pk]
    refused = SyncError.objects.get(record=company, category="custom_code", status="open")
    UserFactory(username="ops", is_staff=True, is_superuser=True)
    page = browser_page

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    # The dashboard: the stage's failed count is highlighted, its status not just "Success"
    page.goto(f"{live_server.url}/admin/syncengine/syncstage/")
    row = page.locator(f'tr[data-stage="{fks.pk}"]')
    expect(row).to_contain_text("Completed with 1 failed")
    failed = row.locator("a.failed-link")
    expect(failed).to_have_text("1")

    # Its link lists the errors the stage reported: the contact waiting for the company
    failed.click()
    page.wait_for_url(re.compile(rf"/health/\?stage={fks.pk}$"))
    expect(page.locator("#list-heading")).to_contain_text(
        "Errors reported by the stage Update foreign keys"
    )
    error_row = page.locator(f"#error-{association.pk}")
    expect(error_row.locator("a.record")).to_have_text("Contact Waiting")
    expect(error_row.locator(".summary")).to_have_text(
        "Contact Waiting waits for Company TRIGGER FAIL Co, which has a Custom code error."
    )

    # The cause link opens the company's own error, in the list of its errors
    error_row.locator("a.cause-link").click()
    page.wait_for_url(re.compile(rf"\?type=custom_code&record={company.pk}#error-{refused.pk}$"))
    target = page.locator(f"#error-{refused.pk}")
    expect(target).to_be_visible()
    expect(target.locator("a.record")).to_have_text("Company TRIGGER FAIL Co")
    expect(page.locator("#errors tbody tr")).to_have_count(1)
    expect(page.locator("#record-filter")).to_contain_text("Company TRIGGER FAIL Co")
