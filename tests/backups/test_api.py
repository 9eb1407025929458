import datetime as dt

import pytest
from django.utils import timezone

from backups.models import Backup, BackupSchedule, Restore
from backups.services import backups as backup_services
from backups.services import restore_apply
from crm import sources
from crm.models import Record
from tests.support.backups import add_authenticator, create, current_code, make_backup, update


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/backups/"),
        ("post", "/api/v1/backups/"),
        ("get", "/api/v1/backups/1/download/"),
        ("get", "/api/v1/backup-schedule/"),
        ("put", "/api/v1/backup-schedule/"),
        ("get", "/api/v1/restores/"),
        ("post", "/api/v1/restores/"),
        ("post", "/api/v1/restores/1/confirm/"),
        ("get", "/api/v1/imports/"),
        ("post", "/api/v1/auth/totp/"),
    ],
)
def test_only_super_admins(api_client, crm_schema, method, url):
    response = getattr(api_client, method)(url, {}, format="json")

    assert response.status_code == 403
    assert not Backup.objects.exists()


def test_request_a_backup_then_the_limit_answers_429(staff_api_client, contacts):
    create(contacts, {"email": "ada@example.com"})

    response = staff_api_client.post("/api/v1/backups/")

    assert response.status_code == 202
    backup = Backup.objects.get()
    assert response.data["id"] == backup.pk
    again = staff_api_client.post("/api/v1/backups/")
    assert again.status_code == 429
    assert again.data["next_allowed_at"] == backup.created_at + dt.timedelta(days=1)
    assert "allows one backup a day" in again.data["detail"]
    assert Backup.objects.count() == 1


def test_list_detail_and_download(staff_api_client, contacts, staff_user):
    create(contacts, {"email": "ada@example.com"})
    backup = make_backup(staff_user)

    listing = staff_api_client.get("/api/v1/backups/")
    detail = staff_api_client.get(f"/api/v1/backups/{backup.pk}/")
    download = staff_api_client.get(detail.data["download_url"])

    assert [b["id"] for b in listing.data["results"]] == [backup.pk]
    assert detail.data["counts"] == {"contacts": 1}
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert b"".join(download.streaming_content)[:2] == b"PK"


def test_an_expired_backup_answers_410(staff_api_client, contacts, staff_user):
    create(contacts, {"email": "ada@example.com"})
    backup = make_backup(staff_user)
    backup_services.expire_backups(now=backup.expires_at)

    response = staff_api_client.get(f"/api/v1/backups/{backup.pk}/download/")

    assert response.status_code == 410
    assert "expired" in response.data["detail"]


def test_schedule_get_and_put(staff_api_client, settings, crm_schema):
    assert staff_api_client.get("/api/v1/backup-schedule/").data["enabled"] is False

    response = staff_api_client.put(
        "/api/v1/backup-schedule/", {"enabled": True, "frequency": "biweekly"}, format="json"
    )

    assert response.status_code == 200
    assert (response.data["enabled"], response.data["frequency"]) == (True, "biweekly")
    assert BackupSchedule.objects.get().frequency == "biweekly"
    assert response.data["next_backup_at"] is not None


def test_schedule_refused_below_enterprise(staff_api_client, settings, crm_schema):
    settings.CONCORD_PLAN = "starter"

    response = staff_api_client.put(
        "/api/v1/backup-schedule/", {"enabled": True, "frequency": "weekly"}, format="json"
    )
    bad = staff_api_client.put(
        "/api/v1/backup-schedule/", {"enabled": False, "frequency": "daily"}, format="json"
    )

    assert response.status_code == 400
    assert "Enterprise" in response.data["errors"]["enabled"][0]
    assert bad.status_code == 400 and "frequency" in bad.data["errors"]
    assert not BackupSchedule.objects.filter(enabled=True).exists()


@pytest.fixture
def backed_up_deals(deals, staff_user):
    ids = create(deals, {"dealname": "Alpha", "amount": 1000}, {"dealname": "Beta", "amount": 2})
    backup = make_backup(staff_user)
    update(deals, ids[0], {"amount": 1})
    return backup, ids


def plan_amounts(client, backup):
    """POST a restore of the deals' amounts from the backup (the API plans it)."""
    return client.post(
        "/api/v1/restores/",
        {"backup": backup.pk, "object_type": "deals", "properties": ["amount"]},
        format="json",
    )


def test_restore_plan_confirm_and_status(staff_api_client, staff_user, backed_up_deals):
    backup, (alpha, _) = backed_up_deals
    device = add_authenticator(staff_user)

    planned = plan_amounts(staff_api_client, backup)
    assert planned.status_code == 201
    assert planned.data["plan"]["properties"] == {"amount": {"change": 1, "clear": 0, "invalid": 0}}
    assert planned.data["name"] == "Data restore - Deal"

    url = f"/api/v1/restores/{planned.data['id']}/confirm/"
    confirmed = staff_api_client.post(
        url, {"confirm_irreversible": True, "otp": current_code(device)}, format="json"
    )
    assert confirmed.status_code == 202
    # (the task runs on commit; in this test's transaction it is run here)
    restore_apply.apply_restore(restore_id=planned.data["id"])

    status = staff_api_client.get(f"/api/v1/restores/{planned.data['id']}/")
    assert (status.data["status"], status.data["updated_count"]) == ("done", 1)
    assert Record.objects.get(pk=alpha).properties["amount"] == 1000
    imports = staff_api_client.get("/api/v1/imports/")
    assert [(i["name"], i["status"]) for i in imports.data["results"]] == [
        ("Data restore - Deal", "done")
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"backup": 0, "object_type": "deals", "properties": ["amount"]}, "backup"),
        ({"object_type": "deals", "properties": ["amount"]}, "backup"),
        ({"object_type": "companies", "properties": ["name"]}, "object_type"),
        ({"object_type": "deals", "properties": ["nope"]}, "properties"),
        ({"object_type": "deals", "properties": []}, "properties"),
    ],
)
def test_bad_restore_requests_answer_400(staff_api_client, backed_up_deals, body, field):
    backup, _ = backed_up_deals
    if "backup" not in body and field != "backup":
        body = {**body, "backup": backup.pk}

    response = staff_api_client.post("/api/v1/restores/", body, format="json")

    assert response.status_code == 400
    assert field in (response.data.get("errors") or response.data)
    assert not Restore.objects.exists()


def test_confirmation_refusals(staff_api_client, staff_user, backed_up_deals):
    backup, (alpha, _) = backed_up_deals
    device = add_authenticator(staff_user)
    restore_id = plan_amounts(staff_api_client, backup).data["id"]
    url = f"/api/v1/restores/{restore_id}/confirm/"
    wrong = "111111" if current_code(device) != "111111" else "222222"

    no_tick = staff_api_client.post(url, {"otp": current_code(device)}, format="json")
    no_code = staff_api_client.post(url, {"confirm_irreversible": True}, format="json")
    bad_code = staff_api_client.post(
        url, {"confirm_irreversible": True, "otp": wrong}, format="json"
    )

    assert (no_tick.status_code, list(no_tick.data["errors"])) == (400, ["confirm_irreversible"])
    assert (no_code.status_code, list(no_code.data["errors"])) == (400, ["otp"])
    assert bad_code.status_code == 403
    assert "wrong or has expired" in bad_code.data["detail"]
    assert Restore.objects.get().status == Restore.Status.PLANNED
    assert Record.objects.get(pk=alpha).properties["amount"] == 1


def test_a_second_concurrent_restore_answers_409(staff_api_client, staff_user, backed_up_deals):
    backup, _ = backed_up_deals
    first = plan_amounts(staff_api_client, backup).data["id"]
    second = plan_amounts(staff_api_client, backup).data["id"]
    Restore.objects.filter(pk=first).update(
        status=Restore.Status.RUNNING, heartbeat_at=timezone.now()
    )
    device = add_authenticator(staff_user)

    response = staff_api_client.post(
        f"/api/v1/restores/{second}/confirm/",
        {"confirm_irreversible": True, "otp": current_code(device)},
        format="json",
    )

    assert response.status_code == 409
    assert response.data["active_restore"] == first
    assert Restore.objects.get(pk=second).status == Restore.Status.PLANNED


def test_totp_setup_returns_the_url_and_confirms_with_a_first_code(staff_api_client, staff_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    started = staff_api_client.post("/api/v1/auth/totp/", {}, format="json")
    assert started.status_code == 201
    assert started.data["otpauth_url"].startswith("otpauth://totp/")
    device = TOTPDevice.objects.get(user=staff_user)
    assert not device.confirmed

    wrong = staff_api_client.post("/api/v1/auth/totp/", {"code": "12"}, format="json")
    assert wrong.status_code == 400
    # the throttle after a wrong code would refuse the right one for a second
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    right = staff_api_client.post(
        "/api/v1/auth/totp/", {"code": current_code(device)}, format="json"
    )
    assert (right.status_code, right.data["confirmed"]) == (200, True)
    assert staff_api_client.get("/api/v1/auth/totp/").data == {
        "confirmed": True,
        "setup_pending": False,
    }


def test_the_openapi_schema_documents_the_endpoints(staff_api_client):
    response = staff_api_client.get("/api/schema/", {"format": "json"})

    paths = response.json()["paths"]
    for path in [
        "/api/v1/backups/",
        "/api/v1/backups/{id}/download/",
        "/api/v1/backup-schedule/",
        "/api/v1/restores/",
        "/api/v1/restores/{id}/confirm/",
        "/api/v1/imports/",
        "/api/v1/auth/totp/",
        "/api/v1/notifications/",
    ]:
        assert path in paths, path
    assert "429" in paths["/api/v1/backups/"]["post"]["responses"]


def test_api_source_is_recorded(staff_api_client, contacts):
    from crm.models import AuditEvent

    staff_api_client.post("/api/v1/backups/")

    assert AuditEvent.objects.get(verb="backup_requested").source == sources.API


def test_list_query_counts_do_not_grow_with_rows(
    staff_api_client, backed_up_deals, staff_user, django_assert_num_queries
):
    backup, _ = backed_up_deals
    for _ in range(5):
        Backup.objects.create(status=Backup.Status.FAILED, requested_by=staff_user)
        plan_amounts(staff_api_client, backup)

    with django_assert_num_queries(1):
        assert len(staff_api_client.get("/api/v1/backups/").data["results"]) == 6
    with django_assert_num_queries(1):
        assert len(staff_api_client.get("/api/v1/restores/").data["results"]) == 5
