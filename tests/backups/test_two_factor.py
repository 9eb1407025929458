"""The restore's second factor: one authenticator per user, shown once, throttled, SSO by session.

Issue 13's finding: an API token alone could start a second authenticator beside the confirmed one,
read its secret, confirm it and then confirm a restore with its codes.
"""

from __future__ import annotations

import datetime as dt
from base64 import b32decode
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import IntegrityError, transaction
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backups import errors
from backups.errors import BackupError
from backups.models import Restore
from backups.services import restore_plan, two_factor
from crm import sources
from crm.models import AuditEvent
from tests.factories import UserFactory
from tests.support.backups import add_authenticator, create, current_code, make_backup
from tests.support.roles import grant_role

TOTP_URL = "/api/v1/auth/totp/"
SSO_BACKEND = "tests.support.backups.SsoBackend"


def wrong_code(device: TOTPDevice) -> str:
    """A six-digit code that none of the steps the device accepts now (t-1, t, t+1) shows."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now = totp.t()
    valid = set()
    for t in (now - 1, now, now + 1):
        totp.time = device.t0 + t * device.step
        valid.add(f"{totp.token():06d}")
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in valid)


def code_from_url(otpauth_url: str) -> str:
    """The code an authenticator app shows for this otpauth URL now (as the user's phone would)."""
    params = parse_qs(urlparse(otpauth_url).query)
    key = b32decode(params["secret"][0] + "=" * (-len(params["secret"][0]) % 8))
    totp = TOTP(key, int(params["period"][0]), 0, int(params["digits"][0]), 0)
    return f"{totp.token():0{params['digits'][0]}d}"


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def planned_restore(deals, staff_user) -> Restore:
    create(deals, {"dealname": "Alpha", "amount": 1000})
    return restore_plan.plan_restore(
        backup=make_backup(staff_user),
        object_type_name="deals",
        properties=["amount"],
        actor=staff_user,
        source=sources.USER,
    )


def confirm_url(restore: Restore) -> str:
    return f"/api/v1/restores/{restore.pk}/confirm/"


# --- one confirmed authenticator per user ----------------------------------------------------


def test_a_token_alone_cannot_enrol_a_second_authenticator(staff_user):
    # given a super admin with a confirmed authenticator, and someone holding only his API token
    device = add_authenticator(staff_user)
    client = token_client(staff_user)

    # when a new set-up is asked for without a code from the confirmed authenticator
    started = client.post(TOTP_URL, {}, format="json")
    blank = client.post(TOTP_URL, {"current_code": "  "}, format="json")

    # then it is refused, names the field, hands out no secret and creates no device
    for response in (started, blank):
        assert response.status_code == 400
        assert "current_code" in response.data["errors"]
        assert "otpauth_url" not in response.data
    assert list(TOTPDevice.objects.filter(user=staff_user).values_list("pk", flat=True)) == [
        device.pk
    ]
    # and a code for a pending set-up that does not exist confirms nothing
    confirm = client.post(TOTP_URL, {"code": "123456"}, format="json")
    assert confirm.status_code == 400
    assert TOTPDevice.objects.filter(user=staff_user, confirmed=True).count() == 1


def test_a_wrong_current_code_starts_no_set_up(settings, staff_user):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = add_authenticator(staff_user)

    response = token_client(staff_user).post(
        TOTP_URL, {"current_code": wrong_code(device)}, format="json"
    )

    assert response.status_code == 403
    assert "otpauth_url" not in response.data
    assert not TOTPDevice.objects.filter(user=staff_user, confirmed=False).exists()
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_the_database_holds_one_confirmed_authenticator_per_user(staff_user):
    add_authenticator(staff_user)
    TOTPDevice.objects.create(user=staff_user, name="pending", confirmed=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        TOTPDevice.objects.create(user=staff_user, name="second", confirmed=True)

    assert TOTPDevice.objects.filter(user=staff_user, confirmed=True).count() == 1
    add_authenticator(UserFactory())  # another user's is no collision


def test_re_enrolment_with_the_current_code_replaces_the_old_one_once_confirmed(staff_user):
    # given a confirmed authenticator
    old = add_authenticator(staff_user)
    client = token_client(staff_user)

    # when a set-up is started with a current code from it
    started = client.post(TOTP_URL, {"current_code": current_code(old)}, format="json")

    # then the new key is handed out, and the old authenticator still is the confirmed one
    assert started.status_code == 201
    assert started.data["otpauth_url"].startswith("otpauth://totp/")
    assert "no-store" in started["Cache-Control"]
    assert list(TOTPDevice.objects.filter(user=staff_user, confirmed=True)) == [old]
    assert TOTPDevice.objects.filter(user=staff_user, confirmed=False).count() == 1

    # when the new app's first code confirms it
    confirmed = client.post(
        TOTP_URL, {"code": code_from_url(started.data["otpauth_url"])}, format="json"
    )

    # then the new one is the only authenticator, and both steps are audited
    assert confirmed.status_code == 200
    assert confirmed.data == {"confirmed": True, "setup_pending": False}
    (new,) = TOTPDevice.objects.filter(user=staff_user)
    assert new.confirmed and new.pk != old.pk
    started_event = AuditEvent.objects.get(verb="authenticator_setup_started")
    assert (started_event.actor, started_event.source) == (staff_user, sources.API)
    assert started_event.detail["replacing"] is True
    replaced = AuditEvent.objects.get(verb="authenticator_replaced")
    assert replaced.detail == {"user": staff_user.pk, "device": new.pk, "replaced": [old.pk]}


def test_code_and_current_code_together_are_refused(staff_user):
    add_authenticator(staff_user)

    response = token_client(staff_user).post(
        TOTP_URL, {"code": "123456", "current_code": "654321"}, format="json"
    )

    assert response.status_code == 400
    assert "current_code" in response.data["errors"]
    assert TOTPDevice.objects.filter(user=staff_user).count() == 1


# --- the secret is shown once ----------------------------------------------------------------


def test_get_never_shows_the_secret(staff_user):
    client = token_client(staff_user)
    started = client.post(TOTP_URL, {}, format="json")
    secret = parse_qs(urlparse(started.data["otpauth_url"]).query)["secret"][0]

    pending = client.get(TOTP_URL)
    assert pending.data == {"confirmed": False, "setup_pending": True}
    assert secret not in pending.content.decode()

    client.post(TOTP_URL, {"code": code_from_url(started.data["otpauth_url"])}, format="json")
    done = client.get(TOTP_URL)
    assert done.data == {"confirmed": True, "setup_pending": False}
    assert secret not in done.content.decode()


@pytest.fixture
def admin_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def test_the_admin_set_up_page_shows_the_key_only_when_the_set_up_starts(admin_client, staff_user):
    started = admin_client.post("/admin/backups/restore/two-factor/", {"start": "1"})
    page = started.content.decode()
    device = TOTPDevice.objects.get(user=staff_user)
    secret = parse_qs(urlparse(device.config_url).query)["secret"][0]
    assert started.status_code == 200 and "no-store" in started["Cache-Control"]
    assert 'id="qr"' in page and secret in page and "shown only now" in page

    later = admin_client.get("/admin/backups/restore/two-factor/").content.decode()
    assert secret not in later and 'id="qr"' not in later and "otpauth://" not in later
    assert "waits for the first code" in later
    wrong = admin_client.post("/admin/backups/restore/two-factor/", {"code": wrong_code(device)})
    assert wrong.status_code == 400 and secret not in wrong.content.decode()
    # the admin's device pages (django-otp's own admin showed key and QR code) show no secret
    for url in [
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert (
            secret not in response.content.decode() and device.key not in response.content.decode()
        )
    for gone in ("config", "qrcode"):  # django-otp's key and QR code views are not mounted
        response = admin_client.get(f"/admin/otp_totp/totpdevice/{device.pk}/{gone}/", follow=True)
        assert response.status_code != 200 or secret not in response.content.decode()
        assert response.get("Content-Type", "").startswith("text/html")


def test_the_admin_replaces_an_authenticator_with_a_current_code(
    settings, admin_client, staff_user
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    old = add_authenticator(staff_user)
    url = "/admin/backups/restore/two-factor/"
    page = admin_client.get(url).content.decode()
    assert "Your authenticator is set up" in page and "Replace the authenticator" in page

    refused = admin_client.post(url, {"start": "1"})
    wrong = admin_client.post(url, {"start": "1", "current_code": wrong_code(old)})
    assert (refused.status_code, wrong.status_code) == (400, 403)
    assert not TOTPDevice.objects.filter(user=staff_user, confirmed=False).exists()

    started = admin_client.post(url, {"start": "1", "current_code": current_code(old)})
    assert started.status_code == 200 and 'id="qr"' in started.content.decode()
    new = TOTPDevice.objects.get(user=staff_user, confirmed=False)
    admin_client.post(url, {"code": current_code(new)})

    assert list(TOTPDevice.objects.filter(user=staff_user)) == [new]
    new.refresh_from_db()
    assert new.confirmed


# --- a super admin's reset -------------------------------------------------------------------


def test_a_super_admin_resets_another_users_authenticator_audited(admin_client, staff_user):
    # given another super admin who lost his phone
    other = UserFactory(is_staff=True, is_superuser=True)
    lost = add_authenticator(other)

    # when a super admin resets it from the authenticators list
    response = admin_client.post(
        "/admin/otp_totp/totpdevice/",
        {"action": "reset_authenticators", "_selected_action": [lost.pk]},
        follow=True,
    )

    # then it is gone, the reset is audited with who did it, and the user enrols again
    assert response.status_code == 200
    assert "Authenticators reset for 1 user" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=other).exists()
    event = AuditEvent.objects.get(verb="authenticator_reset")
    assert (event.actor, event.source, event.target_repr) == (
        staff_user,
        sources.USER,
        other.username,
    )
    assert event.detail == {"user": other.pk, "devices": [lost.pk], "had_confirmed": True}
    assert token_client(other).post(TOTP_URL, {}, format="json").status_code == 201


def test_a_member_of_the_super_admin_role_resets_without_the_superuser_flag(staff_user):
    # given a super admin by role only, and a user who lost his phone
    role_holder = grant_role(UserFactory(is_staff=True), "Super admin")
    lost = add_authenticator(staff_user)

    # when the role holder resets it
    reset = two_factor.reset_authenticators(
        users=[staff_user], actor=role_holder, source=sources.USER
    )

    # then it is gone, and an Admin (no such permission) could not have done it
    assert reset == 1 and not TOTPDevice.objects.filter(pk=lost.pk).exists()
    with pytest.raises(BackupError, match="Only a super admin"):
        two_factor.reset_authenticators(
            users=[role_holder],
            actor=grant_role(UserFactory(is_staff=True), "Admin"),
            source=sources.USER,
        )


def test_nobody_resets_their_own_authenticator(admin_client, staff_user):
    mine = add_authenticator(staff_user)

    response = admin_client.post(
        "/admin/otp_totp/totpdevice/",
        {"action": "reset_authenticators", "_selected_action": [mine.pk]},
        follow=True,
    )

    assert "cannot reset your own authenticator" in response.content.decode()
    assert TOTPDevice.objects.filter(pk=mine.pk).exists()
    assert not AuditEvent.objects.filter(verb="authenticator_reset").exists()
    with pytest.raises(BackupError, match="Only a super admin"):
        two_factor.reset_authenticators(
            users=[staff_user], actor=UserFactory(is_staff=True), source=sources.USER
        )
    # and staff who are not super admins neither see the list nor reset from it
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    assert staff.get("/admin/otp_totp/totpdevice/").status_code == 403
    staff.post(
        "/admin/otp_totp/totpdevice/",
        {"action": "reset_authenticators", "_selected_action": [mine.pk]},
    )
    assert TOTPDevice.objects.filter(pk=mine.pk).exists()


# --- throttling ------------------------------------------------------------------------------


def test_wrong_codes_are_throttled_and_the_answer_says_so(settings, staff_user, planned_restore):
    # a long delay, so the second attempt certainly falls inside it however slow the machine is
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600
    device = add_authenticator(staff_user)
    client = token_client(staff_user)

    wrong = client.post(
        confirm_url(planned_restore),
        {"confirm_irreversible": True, "otp": wrong_code(device)},
        format="json",
    )
    # even the right code is not checked while throttled
    throttled = client.post(
        confirm_url(planned_restore),
        {"confirm_irreversible": True, "otp": current_code(device)},
        format="json",
    )

    assert wrong.status_code == 403
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 3600
    assert throttled.data["retry_after"] == int(throttled["Retry-After"])
    assert "Too many wrong authenticator codes in a row (1)" in throttled.data["detail"]
    assert throttled.data["errors"] == {"otp": [throttled.data["detail"]]}
    planned_restore.refresh_from_db()
    assert planned_restore.status == Restore.Status.PLANNED
    # the failure was committed by the refused request; the throttled attempt did not count
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    # the set-up's replacement path shares the same throttle
    replace = client.post(TOTP_URL, {"current_code": current_code(device)}, format="json")
    assert replace.status_code == 429 and "Retry-After" in replace


def test_a_throttled_first_code_is_refused_at_set_up(settings, staff_user):
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600
    client = token_client(staff_user)
    started = client.post(TOTP_URL, {}, format="json")
    device = TOTPDevice.objects.get(user=staff_user)

    client.post(TOTP_URL, {"code": wrong_code(device)}, format="json")
    response = client.post(
        TOTP_URL, {"code": code_from_url(started.data["otpauth_url"])}, format="json"
    )

    assert response.status_code == 429
    assert "Too many wrong" in response.data["errors"]["code"][0]
    device.refresh_from_db()
    assert not device.confirmed and device.throttling_failure_count == 1


def test_the_admin_confirm_page_says_when_codes_are_throttled(
    settings, admin_client, staff_user, planned_restore
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600
    device = add_authenticator(staff_user)
    url = f"/admin/backups/restore/{planned_restore.pk}/confirm/"

    admin_client.post(url, {"confirm_irreversible": "on", "otp": wrong_code(device)})
    response = admin_client.post(url, {"confirm_irreversible": "on", "otp": current_code(device)})

    assert response.status_code == 429
    assert "Too many wrong authenticator codes" in response.content.decode()
    planned_restore.refresh_from_db()
    assert planned_restore.status == Restore.Status.PLANNED


def test_the_service_raises_the_throttle_with_its_end(settings, staff_user):
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600
    device = add_authenticator(staff_user)
    with pytest.raises(BackupError):
        two_factor.check_code(user=staff_user, code=wrong_code(device))

    with pytest.raises(errors.VerificationThrottled) as excinfo:
        two_factor.check_code(user=staff_user, code=current_code(device))

    device.refresh_from_db()
    assert excinfo.value.locked_until == device.throttling_failure_timestamp + dt.timedelta(
        seconds=3600
    )


# --- SSO exemption ---------------------------------------------------------------------------


@pytest.fixture
def sso_session_client(settings, staff_user) -> APIClient:
    """An API client whose session signed in through the SSO backend."""
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", SSO_BACKEND]
    client = APIClient()
    client.force_login(staff_user, backend=SSO_BACKEND)
    assert client.session[BACKEND_SESSION_KEY] == SSO_BACKEND
    return client


def test_the_sso_exemption_never_applies_to_a_token(
    sso_session_client, staff_user, planned_restore
):
    # given an SSO session's cookie, and a token in the Authorization header
    token, _ = Token.objects.get_or_create(user=staff_user)
    sso_session_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    # when a restore is confirmed without a code
    response = sso_session_client.post(
        confirm_url(planned_restore), {"confirm_irreversible": True}, format="json"
    )

    # then the token-authenticated request needs the second factor
    assert response.status_code == 400
    assert "otp" in response.data["errors"]
    planned_restore.refresh_from_db()
    assert planned_restore.status == Restore.Status.PLANNED

    # while the SSO session itself, without the token, is exempt
    sso_session_client.credentials()
    response = sso_session_client.post(
        confirm_url(planned_restore), {"confirm_irreversible": True}, format="json"
    )
    assert response.status_code == 202
    planned_restore.refresh_from_db()
    assert planned_restore.verified_by == Restore.Verification.SSO


def test_an_sso_session_of_another_user_exempts_nobody(settings, rf, staff_user):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", SSO_BACKEND]
    client = Client()
    client.force_login(UserFactory(is_superuser=True), backend=SSO_BACKEND)
    request = rf.get("/")
    request.session = client.session
    request.user = staff_user

    assert two_factor.signed_in_via_sso(request) is False


def test_the_migration_keeps_the_oldest_of_several_confirmed_authenticators(staff_user):
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    migration = import_module("backups.migrations.0003_one_confirmed_authenticator")
    other = UserFactory()
    # what the enrolment bypass left behind, as it was before the index (dropped inside the
    # test's transaction, which rolls back on SQLite and PostgreSQL alike)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {migration.INDEX}")
    original = add_authenticator(staff_user)
    second = TOTPDevice.objects.create(user=staff_user, name="second", confirmed=True)
    pending = TOTPDevice.objects.create(user=staff_user, name="pending", confirmed=False)
    others_pending = TOTPDevice.objects.create(user=other, name="first", confirmed=False)

    migration.keep_one_confirmed(apps, connection.schema_editor())

    assert set(TOTPDevice.objects.values_list("pk", flat=True)) == {original.pk, others_pending.pk}
    event = AuditEvent.objects.get(verb="authenticator_removed")
    assert event.detail["devices"] == [second.pk, pending.pk]
    assert (event.detail["kept"], event.source) == (original.pk, sources.SYSTEM)
