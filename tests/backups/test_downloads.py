"""Backup downloads: `Accept: application/zip` honoured, expiry decided by the clock (the
expiry task not run), formula-like values neutralised in the CSVs and restored exactly."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backups.errors import BackupError
from backups.models import Backup
from backups.services import restore_apply, restore_plan
from crm import sources
from crm.models import Record
from tests.support.backups import confirmed_restore, create, make_backup, read_zip, update


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def download_url(backup) -> str:
    return f"/api/v1/backups/{backup.pk}/download/"


def past_expiry(backup) -> Backup:
    """The backup's 14 days are over; the periodic expiry task has NOT run."""
    Backup.objects.filter(pk=backup.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    backup.refresh_from_db()
    assert backup.status == Backup.Status.READY and backup.file_name
    return backup


def test_the_download_answers_its_own_media_type(staff_api_client, contacts, staff_user):
    create(contacts, {"email": "ada@example.com"})
    backup = make_backup(staff_user)

    for accept in ("application/zip", "*/*", "application/zip, */*;q=0.1"):
        response = staff_api_client.get(download_url(backup), HTTP_ACCEPT=accept)

        assert response.status_code == 200, accept
        assert response["Content-Type"] == "application/zip"
        assert b"".join(response.streaming_content)[:2] == b"PK"
    assert staff_api_client.get(download_url(backup), HTTP_ACCEPT="text/csv").status_code == 406


def test_a_download_refused_while_asking_for_a_zip_explains_in_json(
    staff_api_client, contacts, staff_user
):
    create(contacts, {"email": "ada@example.com"})
    backup = past_expiry(make_backup(staff_user))

    response = staff_api_client.get(download_url(backup), HTTP_ACCEPT="application/zip")

    assert response.status_code == 410
    assert response["Content-Type"] == "application/json"
    assert "expired" in response.json()["detail"]


def test_past_its_expiry_a_backup_is_expired_without_the_task(
    staff_api_client, admin_client, contacts, staff_user
):
    create(contacts, {"email": "ada@example.com"})
    backup = make_backup(staff_user)
    Backup.objects.filter(pk=backup.pk).update(expires_at=timezone.now() + dt.timedelta(minutes=1))
    assert staff_api_client.get(download_url(backup)).status_code == 200
    assert staff_api_client.get(f"/api/v1/backups/{backup.pk}/").json()["status"] == "ready"
    backup = past_expiry(backup)

    download = staff_api_client.get(download_url(backup))
    detail = staff_api_client.get(f"/api/v1/backups/{backup.pk}/").json()
    (listed,) = staff_api_client.get("/api/v1/backups/").json()["results"]
    admin_download = admin_client.get(f"/admin/backups/backup/{backup.pk}/download/")
    admin_list = admin_client.get("/admin/backups/backup/").content.decode()
    expired_filter = admin_client.get("/admin/backups/backup/", {"status": "expired"})
    ready_filter = admin_client.get("/admin/backups/backup/", {"status": "ready"})

    assert download.status_code == 410
    for shown in (detail, listed):
        assert (shown["status"], shown["download_url"]) == ("expired", None)
    assert admin_download.status_code == 410
    assert "File deleted after 14 days" in admin_list
    assert f"/admin/backups/backup/{backup.pk}/change/" in expired_filter.content.decode()
    assert f"/admin/backups/backup/{backup.pk}/change/" not in ready_filter.content.decode()
    with pytest.raises(BackupError, match="expired"):
        restore_plan.plan_restore(
            backup=backup,
            object_type_name="contacts",
            properties=["firstname"],
            actor=staff_user,
            source=sources.USER,
        )


FORMULAS = {
    "dealname": '=HYPERLINK("http://x","y")',
    "description": "'already quoted",
}


def test_backup_csvs_neutralise_formulas_and_the_restore_writes_back_the_exact_values(
    deals, staff_user
):
    (deal,) = create(deals, {**FORMULAS, "amount": -5})
    backup = make_backup(staff_user)

    (row,) = read_zip(backup)["deals.csv"]
    assert row["dealname"] == '\'=HYPERLINK("http://x","y")'
    assert row["description"] == "''already quoted"
    assert row["amount"] == "-5"  # a number, not text: not a formula

    update(deals, deal, {"dealname": "changed", "description": "@changed"})
    update(deals, deal, {"amount": 7})
    restore = confirmed_restore(
        backup, staff_user, object_type_name="deals", properties=[*FORMULAS, "amount"]
    )
    restore_apply.apply_restore(restore_id=restore.pk)

    values = Record.objects.get(pk=deal).properties
    assert {name: values.get(name) for name in FORMULAS} == FORMULAS
    assert values["amount"] == -5
