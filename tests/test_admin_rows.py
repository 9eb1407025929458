"""`{% plain_result_list %}` (config/admin_rows.py) writes the rows Django's `result_list` writes,
cell for cell, for the lists it covers, and hands every other list to Django."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import result_list as django_result_list
from django.test import Client, RequestFactory

from config.admin_rows import _columns, plain_result_list
from crm.services.records import create_record
from syncengine.admin.errors import SyncErrorAdmin
from syncengine.models import SyncError
from tests.factories import IntegrationFactory, SyncErrorFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/syncengine/syncerror/"


@pytest.fixture
def errors(crm_schema, contacts):
    """Errors with what a cell must escape, blank and missing values, an unknown choice and
    records with and without a name."""
    integration = IntegrationFactory(name="Org <b>\"&'")
    named = create_record(object_type=contacts, properties={"firstname": "Ada <i>"}, source="api")
    return [
        SyncErrorFactory(integration=integration, message="<script>alert('x')</script> & more"),
        SyncErrorFactory(integration=integration, message="   ", remote_field="", code=""),
        SyncErrorFactory(integration=integration, record=named, remote_object="Contact",
                         remote_id="003RS0000001AbCAAA", remote_field="Email"),
        SyncErrorFactory(integration=integration, category="not-a-category", status="resolved",
                         occurrences=1234567),
    ]  # fmt: skip


def changelist(model_admin, user, query: str = ""):
    request = RequestFactory().get(LIST + query)
    request.user = user
    cl = model_admin.get_changelist_instance(request)
    cl.formset = None  # as changelist_view sets it for a list without editable columns
    return cl


def rows_of(context) -> list[str]:
    return ["".join(str(cell) for cell in row) for row in context["results"]]


def assert_same_as_django(cl, rows: int) -> None:
    ours, django = plain_result_list(cl), django_result_list(cl)
    assert len(rows_of(ours)) == rows
    assert rows_of(ours) == rows_of(django)
    assert ours["result_headers"] == django["result_headers"]
    assert ours["num_sorted_fields"] == django["num_sorted_fields"]
    assert ours["result_hidden_fields"] == django["result_hidden_fields"] == []


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        ("", 4),
        ("?status__exact=open", 3),  # the change links carry the list's filters
        ("?q=more&o=-8.1", 1),  # a search, sorted by two columns
        ("?category__exact=picklists", 0),  # nothing matches
    ],
)
def test_the_sync_error_list_rows_are_djangos(errors, admin_user, query, rows):
    cl = changelist(admin.site._registry[SyncError], admin_user, query)
    assert _columns(cl) is not None
    assert_same_as_django(cl, rows)


class EveryKindOfColumn(SyncErrorAdmin):
    """The id, a date-time field, a number, a boolean method, a method showing nothing, and a
    method with its own empty value, linked from a column other than the first."""

    list_display = [
        "id",
        "first_seen_at",
        "occurrences",
        "is_open",
        "nothing",
        "blank",
        "code",
        "status",
    ]
    list_display_links = ["code", "occurrences"]

    @admin.display(boolean=True)
    def is_open(self, obj):
        return obj.status == "open"

    def nothing(self, obj):
        return None

    @admin.display(empty_value="(none)")
    def blank(self, obj):
        return None if obj.code else ""


@pytest.mark.parametrize("links", [["code", "occurrences"], None])
def test_each_kind_of_column_is_shown_as_django_shows_it(errors, admin_user, links, monkeypatch):
    monkeypatch.setattr(EveryKindOfColumn, "list_display_links", links)
    cl = changelist(EveryKindOfColumn(SyncError, admin.site), admin_user, "?status__exact=open")
    assert _columns(cl) is not None
    assert_same_as_django(cl, 3)


class WithARelation(SyncErrorAdmin):
    list_display = ["message", "integration", "__str__"]


def test_a_list_with_other_kinds_of_column_is_left_to_django(errors, admin_user):
    cl = changelist(WithARelation(SyncError, admin.site), admin_user)
    assert _columns(cl) is None
    assert_same_as_django(cl, 4)
    assert plain_result_list(cl)["results"][0] == list(django_result_list(cl)["results"][0])


def test_the_admin_page_renders_its_rows_through_the_tag(errors, staff_user):
    client = Client()
    client.force_login(staff_user)
    body = client.get(LIST).content.decode()
    assert body.count('<th class="field-short_message"><a href="/admin/syncengine/syncerror/') == 4
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in body
