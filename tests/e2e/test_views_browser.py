"""Saved views and guided forms as staff use them, in Debian's headless Chromium (Playwright):
"Create view" from a sync error opens the list under a banner, it is saved as a named view and
reopened from the record list, and "Clear all filters" stays on contacts; the sync-property form
narrows its choices to the chosen source object; the Google filters follow the sync rule."""

import re

import pytest

from crm import sources
from crm.services.records import RecordInput, write_records
from tests.factories import GoogleIntegrationFactory, IntegrationFactory, UserFactory
from tests.support.schema import ensure_standard_schema

pytestmark = pytest.mark.browser


def log_in(page, live_server) -> None:
    UserFactory(username="ops", is_staff=True, is_superuser=True)
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def result_emails(page) -> set[str]:
    return {
        cell.strip()
        for cell in page.locator("#result_list td.field-property_email").all_text_contents()
    }


def test_create_view_save_reopen_and_clear(live_server, browser_page):
    ensure_standard_schema()
    from crm.models import ObjectType
    from syncengine.services.errors import record_sync_error

    contacts = ObjectType.objects.get(name="contacts")
    ids = write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[
            RecordInput({"email": f"{name}@x.com", "lifecyclestage": stage})
            for name, stage in [
                ("ann", "customer"),
                ("bo", "lead"),
                ("cy", "customer"),
                ("di", "lead"),
            ]
        ],
    ).ids
    integration = IntegrationFactory(name="Acme org")
    error = record_sync_error(
        integration=integration,
        category="picklists",
        code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        message="Lifecycle stage: bad value for restricted picklist field",
        object_type_id=contacts.pk,
        remote_object="Contact",
        remote_field="LeadSource",
        property_name="lifecyclestage",
        affected_record_ids=[ids[0], ids[1]],
    )
    page = browser_page
    log_in(page, live_server)

    # "Create view" on the error's row: the record list, saying why.
    page.goto(
        f"{live_server.url}/admin/syncengine/integration/{integration.pk}/health/?type=picklists"
    )
    page.locator(f'tr[data-id="{error.pk}"] a.affected').click()
    page.wait_for_url(re.compile(rf"sync_error={error.pk}"))
    banner = page.locator(".view-banner").first.text_content()
    assert (
        f"Contacts affected by Picklists sync error #{error.pk} of Acme org — from Sync health"
        in " ".join(banner.split())
    )
    assert page.locator("h1").text_content() == "Contacts"
    assert result_emails(page) == {"ann@x.com", "bo@x.com"}

    # Saved under a name, then reopened from the contacts list's Views menu.
    page.fill("#save-view-name", "Picklist contacts")
    page.click("#save-view-form input[type=submit]")
    page.wait_for_url(re.compile(r"&view=\d+$"))
    assert "Saved view “Picklist contacts”" in page.text_content("#current-view")
    page.goto(f"{live_server.url}/admin/crm/record/?type=contacts")
    assert len(result_emails(page)) == 4
    page.click("#saved-views summary")
    page.get_by_role("link", name="Picklist contacts").click()
    page.wait_for_url(re.compile(r"&view=\d+$"))
    assert result_emails(page) == {"ann@x.com", "bo@x.com"}

    # Narrow further by an option (shown by its label), then clear: still contacts, all four.
    page.locator("#changelist-filter").get_by_role("link", name="Customer", exact=True).click()
    page.wait_for_url(re.compile(r"p_lifecyclestage=customer"))
    assert result_emails(page) == {"ann@x.com"}
    page.get_by_role("link", name=re.compile("Clear all filters")).click()
    page.wait_for_url(re.compile(r"/admin/crm/record/\?type=contacts$"))
    assert len(result_emails(page)) == 4


def test_the_sync_property_form_narrows_to_the_source_object(live_server, browser_page):
    ensure_standard_schema()
    from crm.models import AssociationDefinition, ObjectType, Property

    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    page = browser_page
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/crm/property/add/")

    # A text property: no sync section, no options; a dropdown shows its options.
    assert not page.is_visible("fieldset.property-sync")
    assert not page.is_visible("#options-group")
    page.select_option("#id_type", "enumeration")
    assert page.is_visible("#options-group")
    page.select_option("#id_type", "property_sync")
    assert page.is_visible("fieldset.property-sync")
    assert not page.is_visible("#options-group")
    assert not page.is_visible("fieldset.property-access")
    assert not page.is_visible(".form-row.field-unique")

    page.select_option("#id_object_type", str(contacts.pk))
    page.select_option("#id_sync_source_object_type", str(companies.pk))
    offered = page.eval_on_selector_all(
        "#id_sync_source_property option",
        "os => os.filter(o => o.value && !o.hidden).map(o => o.value)",
    )
    company_props = {
        str(pk)
        for pk in Property.objects.filter(object_type=companies).values_list("pk", flat=True)
    }
    assert set(offered) == company_props
    labels = page.eval_on_selector_all(
        'input[name="sync_definitions"]',
        "bs => bs.filter(b => b.offsetParent !== null).map(b => b.value)",
    )
    linking = (
        AssociationDefinition.objects.filter(
            from_object_type__in=[contacts, companies], to_object_type__in=[contacts, companies]
        )
        .exclude(from_object_type=contacts, to_object_type=contacts)
        .exclude(from_object_type=companies, to_object_type=companies)
    )
    assert set(labels) == {str(d.pk) for d in linking}

    # A source property chosen, then another source object: the choice is cleared.
    industry = Property.objects.get(object_type=companies, name="industry")
    page.select_option("#id_sync_source_property", str(industry.pk))
    deals = ObjectType.objects.get(name="deals")
    page.select_option("#id_sync_source_object_type", str(deals.pk))
    assert page.input_value("#id_sync_source_property") == ""


def test_the_google_filters_follow_the_sync_rule(live_server, browser_page):
    ensure_standard_schema()
    integration = GoogleIntegrationFactory()
    page = browser_page
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/syncengine/integration/{integration.pk}/google-sync/")
    starred = 'input[name="filters"][value="starred"]'
    assert page.is_disabled(starred)
    page.check('input[name="sync_rule"][value="filters"]')
    assert page.is_enabled(starred)
    page.check(starred)
    page.check('input[name="conflict_winner"][value="concord"]')
    page.click("#google-sync-form input[type=submit]")
    page.wait_for_selector(".messagelist")
    integration.refresh_from_db()
    assert integration.settings["filters"] == ["starred"]
