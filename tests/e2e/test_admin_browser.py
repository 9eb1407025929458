"""A person's path through the admin, in Debian's headless Chromium driven by Playwright."""

import re

import pytest

from crm import sources
from crm.services.records import create_record
from tests.factories import UserFactory
from tests.support.schema import ensure_standard_schema

pytestmark = pytest.mark.browser


def test_staff_log_in_and_open_a_contact(live_server, browser_page):
    ensure_standard_schema()
    from crm.models import ObjectType

    UserFactory(username="ops", is_staff=True, is_superuser=True)
    contact = create_record(
        object_type=ObjectType.objects.get(name="contacts"),
        source=sources.API,
        properties={"email": "grace@example.com", "firstname": "Grace", "lastname": "Hopper"},
    )
    page = browser_page

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.get_by_role("link", name="Contacts").first.click()
    page.wait_for_url("**/admin/crm/record/?type=contacts")
    page.get_by_role("link", name="Grace Hopper").click()

    # The admin keeps the list's filters in the link (?_changelist_filters=…).
    page.wait_for_url(re.compile(rf"/admin/crm/record/{contact.pk}/change/"))
    assert page.input_value("#id_email") == "grace@example.com"
    assert page.input_value("#id_firstname") == "Grace"
    page.fill("#id_jobtitle", "Rear Admiral")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/admin/crm/record/\?type=contacts$"))
    assert "was changed successfully" in page.text_content(".messagelist")
    contact.refresh_from_db()
    assert contact.properties["jobtitle"] == "Rear Admiral"
