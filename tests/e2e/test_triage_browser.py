"""Where a staff user starts triage at 9 a.m., in Debian's headless Chromium driven by
Playwright: the admin index's sync-health panel counts the open errors per integration and type
and those new since the last visit, a click opens the health page on that card, and the bell
lists the sync errors that arrived since."""

import re

import pytest
from django.urls import reverse

from syncengine.services.errors import record_sync_error
from tests.factories import IntegrationFactory, UserFactory

pytestmark = pytest.mark.browser


def refuse(integration, category: str, remote_id: str) -> None:
    record_sync_error(
        integration=integration,
        category=category,
        code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        message="bad value for restricted picklist field: REAL_ESTATE",
        remote_object="Account",
        remote_id=remote_id,
    )


def panel_row(page, name: str):
    return page.locator("#sync-health-panel tr.integration", has_text=name)


def test_staff_start_from_the_index_panel_and_the_bell(live_server, browser_page):
    UserFactory(username="ops", is_staff=True, is_superuser=True)
    production = IntegrationFactory(name="Salesforce production")
    IntegrationFactory(name="Google Contacts")
    for n in range(3):
        refuse(production, "picklists", f"001{n:015d}")
    refuse(production, "duplicates", "001999999999999999")
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 985})

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")

    # The panel: four open errors, all new to this user; the other integration is clean.
    row = panel_row(page, "Salesforce production")
    assert row.locator(".open-count").inner_text() == "4"
    assert row.locator(".new-count").inner_text() == "4"
    assert row.locator("li[data-card=picklists]").inner_text() == "Picklists 3 (3 new)"
    assert "No open errors" in panel_row(page, "Google Contacts").inner_text()
    # The bell counts them too, drawn as an SVG (no emoji font needed).
    assert page.locator("#notification-bell summary svg.icon-bell").is_visible()
    assert page.locator("#notification-bell .badge").inner_text() == "4"

    # A card's link opens the health page on that card's errors.
    row.get_by_role("link", name="Picklists").click()
    health = reverse("admin:syncengine_integration_health", args=[production.pk])
    page.wait_for_url(re.compile(rf"{re.escape(health)}\?type=picklists$"))
    assert page.locator("#result_list tbody tr, table tbody tr").count() >= 3

    # Seen now: back on the index nothing is new, and the bell has no badge.
    refuse(production, "picklists", "001888888888888888")  # …until the next refusal
    page.goto(f"{live_server.url}/admin/")
    row = panel_row(page, "Salesforce production")
    assert row.locator(".open-count").inner_text() == "5"
    assert row.locator(".new-count").inner_text() == "1"
    assert page.locator("#notification-bell .badge").inner_text() == "1"

    # The bell opens a menu naming the new error's integration, linked to its health page.
    page.locator("#notification-bell summary").click()
    item = page.locator("#notification-bell a.new-sync-errors")
    assert item.inner_text().strip() == "1 new sync error in Salesforce production"
    item.click()
    page.wait_for_url(re.compile(rf"{re.escape(health)}$"))
    assert "Sync health: Salesforce production" in page.title()
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("#notification-bell .badge").count() == 0
