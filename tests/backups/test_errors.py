"""Backup refusals reach HTTP through the global handler (no view translates them) with their
status, code, body and headers; a bug in a view is a 500, never a 400."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backups.errors import (
    BackupError,
    BackupTooSoon,
    BackupUnavailable,
    RestoreInProgress,
    VerificationFailed,
    VerificationThrottled,
)
from backups.models import Backup, BackupSchedule
from tests.support.backups import create

pytestmark = pytest.mark.django_db


def test_each_backup_error_knows_its_status_and_code():
    now = timezone.now()
    throttled = VerificationThrottled(
        failures=3, locked_until=now + dt.timedelta(seconds=30), now=now, field="otp"
    )

    assert [
        (e.status, e.code)
        for e in (
            BackupError("No."),
            BackupTooSoon("Later.", next_allowed_at=now),
            BackupUnavailable("Not yet.", expired=False),
            BackupUnavailable("Gone.", expired=True),
            RestoreInProgress("Busy.", active=None),
            VerificationFailed("Wrong code.", field="otp"),
            throttled,
        )
    ] == [
        (400, "backup_refused"),
        (429, "backup_too_soon"),
        (409, "backup_unavailable"),
        (410, "backup_expired"),
        (409, "restore_in_progress"),
        (403, "verification_failed"),
        (429, "verification_throttled"),
    ]
    assert throttled.body()["retry_after"] == 30
    assert throttled.headers() == {"Retry-After": "30"}


def test_a_service_refusal_reaches_http_with_its_status_code_and_body(staff_api_client, contacts):
    create(contacts, {"email": "ada@example.com"})
    assert staff_api_client.post("/api/v1/backups/").status_code == 202
    backup = Backup.objects.get()

    again = staff_api_client.post("/api/v1/backups/")

    assert again.status_code == 429
    body = again.json()
    assert list(body) == ["detail", "code", "next_allowed_at"]
    assert body["code"] == "backup_too_soon"
    assert again.data["next_allowed_at"] == backup.created_at + dt.timedelta(days=1)
    assert Backup.objects.count() == 1


def test_a_refusal_naming_a_field_is_a_400_with_the_field(staff_api_client, settings, crm_schema):
    settings.CONCORD_PLAN = "starter"

    response = staff_api_client.put(
        "/api/v1/backup-schedule/", {"enabled": True, "frequency": "weekly"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "backup_refused"
    assert body["errors"] == {"enabled": [body["detail"]]}
    assert not BackupSchedule.objects.filter(enabled=True).exists()


def test_an_unexpected_value_error_in_a_view_is_a_500_not_a_400(
    staff_user, crm_schema, monkeypatch
):
    def broken(**kwargs):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr("backups.api.views.backup_services.create_backup", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(staff_user)

    response = client.post("/api/v1/backups/")

    assert response.status_code == 500
    assert not Backup.objects.exists()
