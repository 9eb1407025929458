import re

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.test import Client

from backups.display import human_size
from backups.models import Backup, BackupSchedule, Restore
from backups.services import backups as backup_services
from crm.models import Record
from tests.factories import UserFactory
from tests.support.backups import (
    add_authenticator,
    confirmed_restore,
    create,
    current_code,
    make_backup,
    update,
)


def words(response) -> str:
    """The page's HTML with every run of white space made one space (as it reads)."""
    return " ".join(response.content.decode().split())


@pytest.fixture
def admin_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def test_backup_list_warns_and_offers_the_button_and_downloads(admin_client, contacts, staff_user):
    create(contacts, {"email": "ada@example.com"})
    backup = make_backup(staff_user)

    page = admin_client.get("/admin/backups/backup/")

    html = page.content.decode()
    assert "sensitive ones included: store the file safely" in html
    assert "Associations and activities are not part of it" in html
    assert "Back up now" in html
    assert f"/admin/backups/backup/{backup.pk}/download/" in html
    download = admin_client.get(f"/admin/backups/backup/{backup.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"


def test_back_up_now_then_the_limit_message(admin_client, crm_schema):
    first = admin_client.post("/admin/backups/backup/create/", follow=True)
    second = admin_client.post("/admin/backups/backup/create/", follow=True)

    assert "is being written" in first.content.decode()
    assert "The next backup is allowed from" in second.content.decode()
    assert Backup.objects.count() == 1


def test_expired_download_is_gone(admin_client, contacts, staff_user):
    create(contacts, {"email": "ada@example.com"})
    backup = make_backup(staff_user)
    backup_services.expire_backups(now=backup.expires_at)

    assert admin_client.get(f"/admin/backups/backup/{backup.pk}/download/").status_code == 410
    assert "Expired" in admin_client.get("/admin/backups/backup/").content.decode()


def test_staff_who_are_not_super_admins_get_403(contacts):
    client = Client()
    client.force_login(UserFactory(is_staff=True))

    for url in [
        "/admin/backups/backup/",
        "/admin/backups/backup/1/download/",
        "/admin/backups/backup/schedule/",
        "/admin/backups/restore/new/",
        "/admin/backups/restore/two-factor/",
    ]:
        assert client.get(url).status_code == 403, url
    assert client.post("/admin/backups/backup/create/").status_code == 403
    assert not Backup.objects.exists()


def test_schedule_page_saves(admin_client, crm_schema):
    response = admin_client.post(
        "/admin/backups/backup/schedule/", {"enabled": "on", "frequency": "biweekly"}, follow=True
    )

    assert "The backup schedule was saved" in response.content.decode()
    assert BackupSchedule.objects.get().frequency == "biweekly"


def test_schedule_page_refuses_below_enterprise(admin_client, settings, crm_schema):
    settings.CONCORD_PLAN = "professional"

    response = admin_client.post(
        "/admin/backups/backup/schedule/", {"enabled": "on", "frequency": "weekly"}
    )

    assert "need the Enterprise plan" in response.content.decode()
    assert not BackupSchedule.objects.filter(enabled=True).exists()


def test_restore_wizard_from_choice_to_done(admin_client, deals, staff_user):
    # given deals backed up, then one changed by a bad import
    (alpha,) = create(deals, {"dealname": "Alpha", "amount": 1000})
    backup = make_backup(staff_user)
    update(deals, alpha, {"amount": 1})
    device = add_authenticator(staff_user)

    # step 1: backup and object type; step 2: the properties of that type in the backup
    step1 = admin_client.get("/admin/backups/restore/new/")
    assert "Choose properties" in step1.content.decode()
    step2 = admin_client.get(
        "/admin/backups/restore/new/", {"backup": backup.pk, "object_type": "deals"}
    )
    assert 'value="amount"' in step2.content.decode()
    planned = admin_client.post(
        "/admin/backups/restore/new/",
        {"backup": backup.pk, "object_type": "deals", "properties": ["amount"]},
    )
    restore = Restore.objects.get()
    assert planned["Location"] == f"/admin/backups/restore/{restore.pk}/plan/"

    # the plan: counts and before → after
    plan_page = admin_client.get(planned["Location"]).content.decode()
    assert re.search(r"<code>amount</code></td><td>1</td><td>0</td>", plan_page)
    assert "<td>1</td><td>1000</td>" in plan_page

    # confirming without the tick is refused, then with tick and code it runs
    confirm_url = f"/admin/backups/restore/{restore.pk}/confirm/"
    refused = admin_client.post(confirm_url, {"otp": current_code(device)})
    assert refused.status_code == 400
    assert "Tick the box" in refused.content.decode()
    done = admin_client.post(
        confirm_url, {"confirm_irreversible": "on", "otp": current_code(device)}, follow=True
    )
    assert "is running" in done.content.decode()
    restore.refresh_from_db()
    assert restore.status == Restore.Status.PENDING
    from backups.services.restore_apply import apply_restore

    apply_restore(restore_id=restore.pk)
    assert Record.objects.get(pk=alpha).properties["amount"] == 1000
    listing = admin_client.get("/admin/backups/restore/").content.decode()
    assert "Data restore - Deal" in listing


def test_wrong_code_in_the_admin_is_403_and_changes_nothing(admin_client, deals, staff_user):
    (alpha,) = create(deals, {"dealname": "Alpha", "amount": 1000})
    backup = make_backup(staff_user)
    update(deals, alpha, {"amount": 1})
    device = add_authenticator(staff_user)
    admin_client.post(
        "/admin/backups/restore/new/",
        {"backup": backup.pk, "object_type": "deals", "properties": ["amount"]},
    )
    restore = Restore.objects.get()
    wrong = "111111" if current_code(device) != "111111" else "222222"

    response = admin_client.post(
        f"/admin/backups/restore/{restore.pk}/confirm/",
        {"confirm_irreversible": "on", "otp": wrong},
    )

    assert response.status_code == 403
    assert "wrong or has expired" in response.content.decode()
    restore.refresh_from_db()
    assert restore.status == Restore.Status.PLANNED


def test_an_sso_session_confirms_without_a_code(settings, deals, staff_user):
    backend = "tests.support.backups.SsoBackend"
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", backend]
    client = Client()
    client.force_login(staff_user, backend=backend)
    assert client.session[BACKEND_SESSION_KEY] == backend
    create(deals, {"dealname": "Alpha", "amount": 1000})
    backup = make_backup(staff_user)
    client.post(
        "/admin/backups/restore/new/",
        {"backup": backup.pk, "object_type": "deals", "properties": ["amount"]},
    )
    restore = Restore.objects.get()
    page = client.get(f"/admin/backups/restore/{restore.pk}/confirm/").content.decode()
    assert "no authenticator code is needed" in page

    client.post(f"/admin/backups/restore/{restore.pk}/confirm/", {"confirm_irreversible": "on"})

    restore.refresh_from_db()
    assert (restore.status, restore.verified_by) == (Restore.Status.PENDING, "sso")


def test_two_factor_setup_shows_a_qr_code_and_confirms(admin_client, staff_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    page = admin_client.post("/admin/backups/restore/two-factor/", {"start": "1"}).content.decode()
    assert '<div id="qr"><svg' in page and "otpauth://totp/" in page
    device = TOTPDevice.objects.get(user=staff_user)

    admin_client.post("/admin/backups/restore/two-factor/", {"code": current_code(device)})

    device.refresh_from_db()
    assert device.confirmed


def test_rollback_from_the_admin(admin_client, deals, staff_user):
    from backups.services import restore_apply

    (alpha,) = create(deals, {"dealname": "Alpha", "amount": 1000})
    backup = make_backup(staff_user)
    update(deals, alpha, {"amount": 1})
    restore = confirmed_restore(backup, staff_user, object_type_name="deals", properties=["amount"])
    restore_apply.apply_restore(restore_id=restore.pk)
    assert (
        "Roll back this restore"
        in admin_client.get(f"/admin/backups/restore/{restore.pk}/change/").content.decode()
    )

    response = admin_client.post(f"/admin/backups/restore/{restore.pk}/rollback/")

    rollback = Restore.objects.get(rollback_of=restore)
    assert response["Location"] == f"/admin/backups/restore/{rollback.pk}/plan/"
    assert rollback.plan["properties"]["amount"]["change"] == 1


def test_back_up_now_asks_first_and_the_question_writes_nothing(admin_client, crm_schema):
    question = admin_client.get("/admin/backups/backup/create/")

    html = question.content.decode()
    assert question.status_code == 200
    assert 'id="backup-confirm"' in html and 'method="post"' in html
    assert "sensitive ones included" in html
    assert not Backup.objects.exists()

    admin_client.post("/admin/backups/backup/create/")
    assert Backup.objects.count() == 1


def test_the_question_says_when_the_plan_allows_no_backup_yet(admin_client, crm_schema):
    admin_client.post("/admin/backups/backup/create/")

    html = words(admin_client.get("/admin/backups/backup/create/"))

    assert "allows no further on-demand backup until" in html
    assert 'id="backup-confirm"' not in html


def test_the_list_shows_sizes_and_counts_in_words_and_restore_on_each_ready_row(
    admin_client, contacts, staff_user
):
    create(contacts, *({"email": f"c{i}@example.com"} for i in range(3)))
    backup = make_backup(staff_user)
    Backup.objects.filter(pk=backup.pk).update(size=2_400_000)

    html = admin_client.get("/admin/backups/backup/").content.decode()

    assert "3 records" in html and "2.4 MB" in html
    assert f'href="/admin/backups/restore/new/?backup={backup.pk}" class="restore"' in html
    assert "Download ZIP" in html


def test_the_detail_page_is_a_summary_not_raw_bytes_or_json(admin_client, contacts, staff_user):
    create(contacts, *({"email": f"c{i}@example.com"} for i in range(2)))
    backup = make_backup(staff_user)

    html = admin_client.get(f"/admin/backups/backup/{backup.pk}/change/").content.decode()

    assert "2 records" in html and "contacts.csv" in html
    assert f"On demand, by {staff_user.get_username()}" in html
    assert human_size(backup.size) in html and f">{backup.size}<" not in html
    assert "{&quot;contacts&quot;" not in html and '{"contacts"' not in html


def test_the_wizard_preselects_the_newest_backup_and_the_first_object_it_holds(
    admin_client, contacts, deals, staff_user
):
    create(deals, {"dealname": "Alpha"})
    older = make_backup(staff_user)
    Backup.objects.filter(pk=older.pk).update(created_at=older.created_at.replace(year=2020))
    create(contacts, {"email": "ada@example.com"})
    newest = make_backup(staff_user)

    step1 = admin_client.get("/admin/backups/restore/new/").content.decode()
    from_row = admin_client.get("/admin/backups/restore/new/", {"backup": older.pk})

    assert f'<option value="{newest.pk}" selected>' in step1
    assert '<option value="contacts" selected>' in step1
    # A row's Restore… link: that backup, and its first object type (it holds no contacts).
    assert f'<option value="{older.pk}" selected>' in from_row.content.decode()
    assert '<option value="deals" selected>' in from_row.content.decode()


@pytest.mark.parametrize("bad", ["²", "99999999999999999999", "x"])
def test_the_wizard_says_a_bad_backup_id_cannot_be_restored_from(admin_client, contacts, bad):
    response = admin_client.get("/admin/backups/restore/new/", {"backup": bad})

    assert response.status_code == 200
    assert f"Backup #{bad} cannot be restored from" in words(response)
    assert not Restore.objects.exists()


def test_the_wizard_states_the_second_factor_on_its_first_step(admin_client, crm_schema):
    without = words(admin_client.get("/admin/backups/restore/new/"))

    assert "you have none set up" in without
    assert 'href="/admin/backups/restore/two-factor/"' in without


def test_without_an_authenticator_the_confirm_page_shows_one_message(
    admin_client, deals, staff_user
):
    create(deals, {"dealname": "Alpha", "amount": 1000})
    backup = make_backup(staff_user)
    admin_client.post(
        "/admin/backups/restore/new/",
        {"backup": backup.pk, "object_type": "deals", "properties": ["amount"]},
    )
    restore = Restore.objects.get()
    url = f"/admin/backups/restore/{restore.pk}/confirm/"

    shown = words(admin_client.get(url))
    refused = admin_client.post(url, {"confirm_irreversible": "on", "otp": "123456"})

    assert shown.count('class="errornote"') == 1 and "you have none set up" in shown
    assert 'id="restore"' not in shown
    assert refused.content.decode().count('class="errornote"') == 1
    assert "errorlist" not in refused.content.decode()
    restore.refresh_from_db()
    assert restore.status == Restore.Status.PLANNED
