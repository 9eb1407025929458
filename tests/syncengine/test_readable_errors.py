"""Errors a person can read (issue 17, item 4): records by name, details in words, plural
forms, one-line dates, the message before the code, the cause chain of an association error
with its link, remote records linked into the remote's UI; query counts that stay constant."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from syncengine.health.texts import count_of, details_text, record_name
from syncengine.models import RecordLink
from syncengine.remote_links import remote_record_url
from tests.factories import GoogleIntegrationFactory, IntegrationFactory, ObjectMappingFactory
from tests.support.error_chains import (
    deals_waiting_for_a_broken_company,
    named,
    waiting_for,
)

pytestmark = pytest.mark.django_db

INSTANCE = "https://acme.my.salesforce.com"


@pytest.fixture
def org(crm_schema, deals, companies):
    integration = IntegrationFactory(name="Acme org", instance_url=INSTANCE)
    ObjectMappingFactory(integration=integration, object_type=deals, remote_object="Opportunity")
    ObjectMappingFactory(integration=integration, object_type=companies, remote_object="Account")
    return integration


@pytest.fixture
def admin(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def health(integration, **query) -> str:
    url = reverse("admin:syncengine_integration_health", args=[integration.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def rows_of(html: str) -> dict[str, str]:
    """The error list's rows by error id."""
    return dict(re.findall(r'<tr data-id="(\d+)" id="error-\d+">(.*?)</tr>', html, re.S))


def test_details_are_words_never_a_printed_dict_or_list():
    text = details_text(
        {"fields": ["Industry", "Name"], "statusCode": "BAD", "value": None, "nested": {"a": 1}},
        code="BAD",
    )
    assert text == "Fields: Industry, Name · Nested: A: 1"
    assert not any(mark in text for mark in "{}[]'\"")
    assert details_text({}, code="X") == ""
    assert details_text(["stored", "as a list"]) == "stored, as a list"  # never a crash


def test_records_by_name_and_counts_in_the_right_form(deals, companies):
    assert record_name(named(deals, dealname="Acme renewal")) == "Deal Acme renewal"
    unnamed = named(companies)
    assert record_name(unnamed) == f"Company #{unnamed.pk}"
    assert [count_of(n, "record", "records") for n in (0, 1, 2)] == [
        "0 records",
        "1 record",
        "2 records",
    ]


def test_remote_links_open_the_record_in_the_remote_ui():
    salesforce = IntegrationFactory.build(instance_url=INSTANCE + "/")
    assert remote_record_url(
        integration=salesforce, remote_object="Account", remote_id="001000000000001AAA"
    ) == (INSTANCE + "/lightning/r/Account/001000000000001AAA/view")
    google = GoogleIntegrationFactory.build()
    assert remote_record_url(
        integration=google, remote_object="Person", remote_id="people/c12345"
    ) == ("https://contacts.google.com/person/c12345")
    assert remote_record_url(integration=salesforce, remote_object="Account", remote_id="") == ""


def test_an_association_error_names_both_records_and_links_the_cause(admin, org, deals, companies):
    # Given a deal waiting for a company that has a picklist error of its own
    company, own, [deal], blocked = deals_waiting_for_a_broken_company(
        org, deals, companies, name="Globex"
    )
    # When the associations card is opened
    html = admin.get(health(org, type="associations")).content.decode()
    row = rows_of(html)[str(blocked.pk)]
    # Then the Record column is the waiting deal and the blocking company stands apart
    assert f'href="/admin/crm/record/{deal.pk}/change/">Deal Globex renewal</a>' in row
    assert f'class="blocking-record" href="/admin/crm/record/{company.pk}/change/">' in row
    assert "Company Globex</a>" in row
    # The sentence leads, with the cause, and a link to the company's own error
    assert "Deal Globex renewal waits for Company Globex, which has a Picklists error." in row
    cause = f"?type=picklists&amp;record={company.pk}#error-{own.pk}"
    assert cause in row and "Picklists error of Company Globex" in row
    assert row.index('class="summary"') < row.index('class="code"')  # the code is secondary
    assert "1 record<" in row and "1 records" not in html
    assert "record 4" not in row and "{" not in row
    assert 'class="when"' in row  # short, unwrapped dates

    # When the cause link is followed, the company's picklist error is listed
    target = admin.get(health(org, type="picklists", record=company.pk)).content.decode()
    assert list(rows_of(target)) == [str(own.pk)]
    assert "Showing the errors of <strong>Company Globex</strong> only" in target


def test_a_blocking_record_that_waits_itself_names_what_it_waits_for(admin, org, deals, companies):
    # Given a deal waiting for a company with no error of its own, which waits for its parent
    parent, *_ = deals_waiting_for_a_broken_company(org, deals, companies, name="Parent")
    child = named(companies, name="Child Co")
    waiting_for(org, parent, [child])
    deal = named(deals, dealname="Child deal")
    blocked = waiting_for(org, child, [deal])
    html = admin.get(health(org, type="associations")).content.decode()
    row = rows_of(html)[str(blocked.pk)]
    assert "Deal Child deal waits for Company Child Co, which waits for Company Parent." in row
    assert f"?type=associations&amp;record={parent.pk}#error-" in row


def test_a_blocking_record_without_errors_is_not_in_the_remote_yet(admin, org, deals, companies):
    company = named(companies, name="New Co")
    blocked = waiting_for(org, company, [named(deals, dealname="Fresh deal")])
    row = rows_of(admin.get(health(org, type="associations")).content.decode())[str(blocked.pk)]
    assert (
        "Deal Fresh deal waits for Company New Co, which is not in Salesforce yet "
        "(it is sent with the next push)." in row
    )
    assert "cause-link" not in row


def test_the_waiting_records_remote_record_is_linked(admin, org, deals, companies):
    _, _, [deal], blocked = deals_waiting_for_a_broken_company(org, deals, companies, name="Linked")
    RecordLink.objects.create(
        integration=org,
        object_mapping=org.object_mappings.get(remote_object="Opportunity"),
        record=deal,
        remote_object="Opportunity",
        remote_id="006000000000001AAA",
    )
    row = rows_of(admin.get(health(org, type="associations")).content.decode())[str(blocked.pk)]
    assert f'href="{INSTANCE}/lightning/r/Opportunity/006000000000001AAA/view"' in row


def test_the_api_and_export_say_the_same_in_words(staff_api_client, org, deals, companies):
    company, own, deals_waiting, blocked = deals_waiting_for_a_broken_company(
        org, deals, companies, name="Initech", n=3
    )
    body = staff_api_client.get("/api/v1/sync-errors/", {"type": "associations"}).json()
    [row] = body["results"]
    assert row["summary"] == (
        "Deal Initech renewal (and 2 other records) waits for Company Initech, which has a "
        "Picklists error."
    )
    assert (row["blocking_record"], row["blocking_record_label"]) == (
        company.pk,
        "Company Initech",
    )
    assert row["affected_record_label"] == "Deal Initech renewal"
    assert row["cause"]["error"] == own.pk and row["cause"]["url"].startswith("http://testserver/")
    detail = staff_api_client.get(f"/api/v1/sync-errors/{blocked.pk}/").json()
    assert detail["summary"] == row["summary"] and detail["resolution_steps"]
    [picklist] = staff_api_client.get("/api/v1/sync-errors/", {"type": "picklists"}).json()[
        "results"
    ]
    assert picklist["details_text"] == "Fields: Industry"  # the repeated code left out

    export = staff_api_client.get("/api/v1/sync-errors/export/", {"type": "associations"})
    [line] = csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    assert line["Message"] == row["summary"]
    assert (line["Record"], line["Blocking record"]) == ("Deal Initech renewal", "Company Initech")
    assert line["Concord record id"] == str(deals_waiting[0].pk)
    assert list(line).index("Message") < list(line).index("Code")


def test_health_page_queries_stay_constant_as_errors_grow(
    admin, org, deals, companies, django_assert_num_queries
):
    def page():
        return admin.get(health(org, type="associations"))

    deals_waiting_for_a_broken_company(org, deals, companies, name="A0", n=2)
    page()  # warm the session and the content types
    with CaptureQueriesContext(connection) as few:
        assert page().status_code == 200
    for i in range(1, 9):
        deals_waiting_for_a_broken_company(org, deals, companies, name=f"A{i}", n=3)
    # The names, the causes and the remote links of 9 rows cost what those of 1 did
    with django_assert_num_queries(len(few.captured_queries)):
        response = page()
    assert len(rows_of(response.content.decode())) == 9


def test_api_list_queries_stay_constant_as_errors_grow(
    staff_api_client, org, deals, companies, django_assert_num_queries
):
    def page():
        return staff_api_client.get("/api/v1/sync-errors/", {"type": "associations"})

    deals_waiting_for_a_broken_company(org, deals, companies, name="B0")
    page()
    with CaptureQueriesContext(connection) as few:
        page()
    for i in range(1, 6):
        deals_waiting_for_a_broken_company(org, deals, companies, name=f"B{i}", n=2)
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(page().json()["results"]) == 6


def test_the_error_admin_leads_with_the_message_and_names_records(admin, org, deals, companies):
    company, _, _, blocked = deals_waiting_for_a_broken_company(
        org, deals, companies, name="Umbrella"
    )
    html = admin.get(reverse("admin:syncengine_syncerror_changelist")).content.decode()
    assert "Company Umbrella (blocks other records)" in html
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert headers[:2] == ["short_message", "category"] and headers[-1] == "code"
    change = admin.get(reverse("admin:syncengine_syncerror_change", args=[blocked.pk]))
    page = change.content.decode()
    assert change.status_code == 200
    assert f"?type=associations&amp;record={company.pk}#error-{blocked.pk}" in page


def test_the_google_health_page_says_what_google_reports(admin, crm_schema):
    google = GoogleIntegrationFactory()
    html = admin.get(health(google)).content.decode()
    assert "Limit reported by Salesforce" not in html
    assert "Google Contacts sets no daily call limit" in html
    assert "per-minute quota" in html
    assert "Google Contacts record" not in html  # no list shown: no type chosen
    salesforce = IntegrationFactory(instance_url=INSTANCE)
    assert "Limit reported by Salesforce" in admin.get(health(salesforce)).content.decode()
