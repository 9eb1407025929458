"""The admin's sync error list: keyset pages in its default order, filters kept across pages,
estimated counts on large PostgreSQL tables, and no query per row."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm.services.records import create_record
from syncengine.admin import paging
from syncengine.admin.errors import SyncErrorAdmin
from tests.factories import IntegrationFactory, SyncErrorFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/syncengine/syncerror/"
START = dt.datetime(2027, 1, 15, 8, tzinfo=dt.UTC)


@pytest.fixture
def client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(SyncErrorAdmin, "list_per_page", 3)


def make_errors(n: int, *, category: str = "other", **fields) -> list:
    """n errors, the first newest; two of them share a time (the keyset's tie-break)."""
    integration = fields.pop("integration", None) or IntegrationFactory()
    return [
        SyncErrorFactory(
            integration=integration,
            category=category,
            last_seen_at=START - dt.timedelta(minutes=i if i != 2 else 1),
            first_seen_at=START - dt.timedelta(days=1),
            **fields,
        )
        for i in range(n)
    ]


def page(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, response
    return response.context["cl"], response.content.decode()


def ids(cl) -> list[int]:
    return [error.pk for error in cl.result_list]


def newest_first(errors) -> list[int]:
    return [e.pk for e in sorted(errors, key=lambda e: (e.last_seen_at, e.pk), reverse=True)]


def test_next_and_previous_pages_walk_the_list_in_order(client, small_pages):
    errors = newest_first(make_errors(7))

    first, html = page(client, LIST)
    assert ids(first) == errors[:3]
    assert first.keyset_previous_url == "" and 'class="next-page"' in html
    second, _ = page(client, LIST + first.keyset_next_url)
    assert ids(second) == errors[3:6]
    third, html = page(client, LIST + second.keyset_next_url)
    assert ids(third) == errors[6:]
    assert third.keyset_next_url == "" and 'class="previous-page"' in html

    back, _ = page(client, LIST + third.keyset_previous_url)
    assert ids(back) == errors[3:6]
    start, _ = page(client, LIST + back.keyset_previous_url)
    assert ids(start) == errors[:3] and start.keyset_previous_url == ""
    assert f"{first.result_count} sync errors" in html and first.result_count == 7


def test_pages_keep_the_filters_and_a_filter_link_starts_again(client, small_pages):
    integration = IntegrationFactory()
    picklists = newest_first(make_errors(5, category="picklists", integration=integration))
    make_errors(4, category="other", integration=integration)
    make_errors(2, category="picklists", integration=integration, status="resolved")
    url = f"{LIST}?status__exact=open&category__exact=picklists"

    first, _ = page(client, url)
    assert "category__exact=picklists" in first.keyset_next_url
    assert "status__exact=open" in first.keyset_next_url
    second, html = page(client, LIST + first.keyset_next_url)

    assert ids(first) + ids(second) == picklists
    assert second.result_count == 5
    # The filter sidebar's links drop the cursor: another filter starts at its first page.
    assert "after=" not in second.get_query_string({"category__exact": "other"})
    assert "after=" not in html.split('id="changelist-filter"')[1]


def test_a_page_takes_the_same_queries_with_3_rows_or_40(client, staff_user, contacts):
    ada = create_record(
        object_type=contacts, properties={"firstname": "Ada", "email": "a@x.com"}, source="user"
    )
    integration = IntegrationFactory()
    make_errors(3, integration=integration, record=ada)
    with CaptureQueriesContext(connection) as few:
        small, _ = page(client, LIST)
    make_errors(40, integration=integration, record=ada)
    with CaptureQueriesContext(connection) as many:
        large, html = page(client, LIST)

    assert (len(small.result_list), len(large.result_list)) == (3, 43)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert "Ada" in html


@pytest.mark.parametrize("cursor", ["after=nonsense", "after=²", "before=²", "after=0"])
def test_a_bad_cursor_is_the_admins_error_page_not_a_500(client, cursor):
    make_errors(2)

    response = client.get(f"{LIST}?{cursor}")

    assert response.status_code == 302 and response["Location"].endswith("?e=1")


def test_a_cursor_to_a_vanished_error_starts_at_the_first_page(client, small_pages):
    errors = newest_first(make_errors(4))

    cl, _ = page(client, f"{LIST}?after=999999999")

    assert ids(cl) == errors[:3]


def test_sorting_by_a_column_falls_back_to_numbered_pages(client, small_pages):
    make_errors(5)

    cl, html = page(client, f"{LIST}?o=-8")  # occurrences, descending

    assert not cl.keyset and len(cl.result_list) == 3
    assert "?o=-8&amp;p=2" in html
    response = client.get(f"{LIST}?o=-8&after=1")
    assert response.status_code == 302  # a cursor belongs to the default order


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate")
def test_a_large_list_shows_the_planners_estimate(client, small_pages, monkeypatch):
    make_errors(5)
    monkeypatch.setattr(paging, "ESTIMATE_ABOVE", 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE syncengine_syncerror")

    cl, html = page(client, LIST)

    assert cl.result_count_is_estimate and "About" in html
    assert len(cl.result_list) == 3 and cl.keyset_next_url


def test_a_small_list_is_counted_exactly(client, small_pages):
    make_errors(4)

    cl, html = page(client, LIST)

    assert not cl.result_count_is_estimate and cl.result_count == 4
    assert "About" not in html


def test_a_page_runs_a_pinned_set_of_queries_none_over_every_error(client, staff_user):
    # Given errors in two integrations, one of them opened on its health page by the user
    from notifications.services import record_health_visit
    from syncengine.services.errors import rebuild_error_counts

    seen, unseen = IntegrationFactory(), IntegrationFactory()
    for integration in (seen, unseen):
        make_errors(5, integration=integration)
        rebuild_error_counts(integration=integration)  # as the error service keeps them
    record_health_visit(user=staff_user, integration=seen, at=START - dt.timedelta(minutes=3))

    with CaptureQueriesContext(connection) as captured:
        cl, html = page(client, LIST)

    # Then the page is the session, user and time zone, the filter's integrations, its rows
    # and their count (exact below the estimate's threshold), the sidebar's object types and
    # the bell (unread notifications, the cards' kept counts with the user's visits, the
    # errors new since a visit): no query per row, and the only ones over the errors are the
    # page (LIMIT), its count and one index range since the visit. PostgreSQL asks its planner
    # for the count first (an exact count follows below the threshold); SQLite only counts.
    queries = [q["sql"] for q in captured.captured_queries]
    over_errors = [q for q in queries if 'FROM "syncengine_syncerror"' in q]
    estimate = [q for q in over_errors if q.startswith("EXPLAIN")]
    assert len(estimate) == (1 if connection.vendor == "postgresql" else 0)
    assert len(cl.result_list) == 10 and "10 sync errors" in html
    assert len(queries) == 10 + len(estimate)
    page_rows, count, since_visit = [q for q in over_errors if q not in estimate]
    assert page_rows.endswith("LIMIT 51") and count.startswith("SELECT COUNT(*)")
    assert '"first_seen_at" >' in since_visit and '"integration_id" = ' in since_visit


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_times_read_as_djangos_date_format_wrote_them(zone):
    from django.utils import timezone
    from django.utils.formats import date_format

    from syncengine.admin.errors import _when

    for value in (START, START.replace(month=7, day=3, hour=23, minute=5, second=9)):
        with timezone.override(zone):
            local = timezone.localtime(value)
            expected = (
                f'<span style="white-space:nowrap" title="{date_format(local, "Y-m-d H:i:s T")}">'
                f"{date_format(local, 'j M H:i')}</span>"
            )
            assert _when(value) == expected
    assert _when(None) == "—"
