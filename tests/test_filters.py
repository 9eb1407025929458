"""The API's filter backend builds a filterset only when the request names one of its filters:
a list without filter parameters is the queryset as it is, and a filter still validates and
filters as django-filter does."""

from __future__ import annotations

import pytest
from django_filters import rest_framework as filters
from rest_framework.test import APIRequestFactory

from config.filters import FilterBackend, _asks_for_filtering
from crm import sources
from crm.api.views import AuditEventFilter, RecordFilter
from crm.services.records import create_record


class _RequiredFilter(filters.FilterSet):
    verb = filters.CharFilter(required=True)


def _request(query: str):
    from rest_framework.request import Request

    return Request(APIRequestFactory().get(f"/?{query}"))


@pytest.mark.parametrize(
    ("filterset", "query", "asks"),
    [
        (RecordFilter, "", False),
        (RecordFilter, "limit=5&properties=email&property.email=a@x.io", False),
        (RecordFilter, "created_after=2000-01-01T00:00:00Z", True),
        (RecordFilter, "updated_before=", True),  # empty, but django-filter's form still reads it
        (AuditEventFilter, "verb=create", True),
        (AuditEventFilter, "object_type_0=x", True),  # the part of a multi-value widget
        (AuditEventFilter, "cursor=abc", False),
        (_RequiredFilter, "", True),  # its form must say the parameter is missing
    ],
)
def test_asks_for_filtering_when_a_parameter_names_a_filter(filterset, query, asks):
    assert _asks_for_filtering(_request(query), filterset) is asks


def test_a_list_without_filter_parameters_builds_no_filterset(
    staff_api_client, contacts, monkeypatch
):
    create_record(object_type=contacts, source=sources.API, properties={"email": "a@x.io"})

    def refuse(*args, **kwargs):
        raise AssertionError("a filterset was built for a request naming no filter")

    monkeypatch.setattr(FilterBackend, "get_filterset", refuse)
    response = staff_api_client.get("/api/v1/objects/contacts/records/?limit=10")
    assert response.status_code == 200
    assert [r["properties"]["email"] for r in response.json()["results"]] == ["a@x.io"]


def test_a_named_filter_still_filters_and_refuses_bad_values(staff_api_client, contacts):
    create_record(object_type=contacts, source=sources.API, properties={"email": "a@x.io"})
    url = "/api/v1/objects/contacts/records/"
    assert (
        len(staff_api_client.get(f"{url}?created_after=2000-01-01T00:00:00Z").json()["results"])
        == 1
    )
    assert staff_api_client.get(f"{url}?created_after=2999-01-01T00:00:00Z").json()["results"] == []
    refused = staff_api_client.get(f"{url}?created_after=yesterday")
    assert refused.status_code == 400
    assert "created_after" in refused.json()["errors"]
