"""CSV exports of the sync engine: formulas neutralised, filters checked before streaming,
`Accept: text/csv` and `*/*` honoured."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from syncengine.services.errors import record_sync_error
from tests.factories import IntegrationFactory, SyncCycleFactory, SyncStageFactory

pytestmark = pytest.mark.django_db

STAGES = "/api/v1/sync-stages/export/"
ERRORS = "/api/v1/sync-errors/export/"


@pytest.fixture
def offline(crm_schema):
    return IntegrationFactory(name="+Org", instance_url="https://example.my.salesforce.com")


@pytest.fixture
def stage(offline, contacts):
    cycle = SyncCycleFactory(integration=offline, status="failed")
    return SyncStageFactory(
        cycle=cycle,
        integration=offline,
        object_type=contacts,
        remote_object="@Contact",
        operation="push_new",
        status="failed",
        failed=3,
        new=5,
        started_at=timezone.now(),
        message="=cmd|' /C calc'!A0",
    )


@pytest.fixture
def error(offline, contacts):
    return record_sync_error(
        integration=offline,
        category="other",
        code="UNKNOWN",
        message="\t=1+1",
        object_type_id=contacts.pk,
        remote_object="Contact",
        details={"note": "=x"},
    )


def table(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_stages_export_neutralises_formulas(staff_api_client, staff_user, stage):
    api = table(staff_api_client.get(STAGES))
    client = Client()
    client.force_login(staff_user)
    admin = table(client.get(reverse("admin:syncengine_syncstage_export")))

    for rows in (api, admin):
        (row,) = rows
        assert row["Message"] == "'=cmd|' /C calc'!A0"
        assert row["Integration"] == "'+Org"
        assert row["Remote object"] == "'@Contact"
        assert (row["New"], row["Failed"]) == ("5", "3")


def test_the_errors_export_neutralises_tab_and_formula_text(staff_api_client, error):
    (row,) = table(staff_api_client.get(ERRORS))
    assert row["Message"] == "'\t=1+1"
    assert row["Details"] == "Note: =x"  # a label leads: no formula to neutralise


@pytest.mark.parametrize("url", [STAGES, ERRORS])
def test_exports_answer_their_own_media_type(staff_api_client, stage, error, url):
    for accept in ("text/csv", "*/*", "text/csv;q=0.9, */*;q=0.1"):
        response = staff_api_client.get(url, HTTP_ACCEPT=accept)

        assert response.status_code == 200, accept
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert len(table(response)) == 1
    # Other media types are still refused.
    assert staff_api_client.get(url, HTTP_ACCEPT="application/zip").status_code == 406


@pytest.mark.parametrize(
    "url, params, field",
    [
        (ERRORS, {"integration": "99999999999999999999"}, "integration"),
        (ERRORS, {"record": "0"}, "record"),
        (ERRORS, {"type": "nonsense"}, "type"),
        (STAGES, {"integration": "99999999999999999999"}, "integration"),
        (STAGES, {"operation": "nonsense"}, "operation"),
    ],
)
def test_a_bad_filter_is_a_json_400_before_any_csv(
    staff_api_client, stage, error, url, params, field
):
    for accept in ("text/csv", "*/*"):
        response = staff_api_client.get(url, params, HTTP_ACCEPT=accept)

        assert response.status_code == 400, accept
        assert not response.streaming
        assert response["Content-Type"] == "application/json"
        assert field in response.json()["errors"]


def test_a_query_that_fails_is_an_error_answer_not_a_cut_off_csv(staff_api_client, monkeypatch):
    from syncengine.health import export

    def broken(queryset):
        yield "Error id\n"
        raise RuntimeError("the database went away")

    monkeypatch.setattr(export, "iter_errors_csv", broken)
    staff_api_client.raise_request_exception = False

    response = staff_api_client.get(ERRORS)

    assert response.status_code == 500
    assert not response.streaming
