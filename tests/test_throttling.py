"""Password guessing is rate-limited: the API token endpoint per client address and per
username (DRF throttles), the admin login per address and per username (django-axes); both
answer 429 with Retry-After. Small limits here; the defaults are in the README."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
TOKEN_URL = "/api/v1/auth/token/"
LOGIN_URL = "/admin/login/"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Every attempt hashes a password; the limits, not the hasher, are under test here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def token_rates(settings):
    def set_rates(*, ip: str = "1000/hour", username: str = "1000/hour", proxies: int = 0):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"auth_token_ip": ip, "auth_token_username": username},
            "NUM_PROXIES": proxies,
        }

    return set_rates


def ask_token(username: str, password: str = "wrong", **extra):
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, format="json", **extra
    )


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"] == "application/json"
    assert "throttled" in response.json()["detail"]


# --- the token endpoint ------------------------------------------------------------------------


def test_token_requests_are_limited_per_client_address(token_rates):
    token_rates(ip="3/hour")
    for n in range(3):
        assert ask_token(f"user{n}").status_code == 400

    assert_throttled(ask_token("user9"))
    assert int(ask_token("user9")["Retry-After"]) <= 3600
    # Another address has its own allowance.
    assert ask_token("user9", REMOTE_ADDR="10.0.0.2").status_code == 400


def test_a_client_sent_forwarded_for_header_buys_no_fresh_allowance(token_rates):
    token_rates(ip="2/hour")
    for n in range(2):
        ask_token(f"user{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert_throttled(ask_token("user5", HTTP_X_FORWARDED_FOR="192.0.2.99"))


def test_behind_a_trusted_proxy_the_forwarded_address_counts(token_rates):
    token_rates(ip="2/hour", proxies=1)
    for _ in range(2):
        ask_token("someone", HTTP_X_FORWARDED_FOR="192.0.2.1")

    assert_throttled(ask_token("someone", HTTP_X_FORWARDED_FOR="192.0.2.1"))
    # The proxy's own address is the same, the client's is not.
    assert ask_token("someone", HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 400


def test_token_requests_are_limited_per_username_from_any_address(token_rates):
    token_rates(username="3/hour")
    UserFactory(username="alice", password="right-password")
    for n in range(3):
        assert ask_token("alice", REMOTE_ADDR=f"10.0.1.{n}").status_code == 400

    # Even the right password, from a fresh address, waits.
    assert_throttled(ask_token("alice", "right-password", REMOTE_ADDR="10.0.1.50"))
    other = ask_token("bob", REMOTE_ADDR="10.0.1.51")
    assert other.status_code == 400 and "Unable to log in" in other.content.decode()


def test_the_right_password_gets_a_token_within_the_limits(token_rates):
    token_rates(ip="3/hour", username="3/hour")
    UserFactory(username="carol", password="right-password")
    response = ask_token("carol", "right-password")
    assert response.status_code == 200 and response.json()["token"]


@pytest.mark.parametrize("body", [[1, 2], "just a string", {"username": ["a", "b"]}])
def test_odd_bodies_are_still_a_400_under_the_username_throttle(token_rates, body):
    token_rates(username="1/hour")
    for _ in range(2):
        response = APIClient().post(TOKEN_URL, body, format="json")
        assert response.status_code == 400


# --- the admin login -------------------------------------------------------------------------


@pytest.fixture
def admin_user(db):
    return UserFactory(
        username="admin-alice", is_staff=True, is_superuser=True, password="right-password"
    )


@pytest.fixture
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def log_in(username: str, password: str = "wrong", ip: str = "127.0.0.1", **headers):
    client = Client(REMOTE_ADDR=ip, **headers)
    response = client.post(
        LOGIN_URL, {"username": username, "password": password, "next": "/admin/"}
    )
    return client, response


def test_admin_login_locks_after_the_failure_limit(lockout, admin_user):
    for _ in range(2):
        _, response = log_in("admin-alice")
        assert response.status_code == 200 and "correct username and password" in (
            response.content.decode()
        )

    _, response = log_in("admin-alice")

    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    page = response.content.decode()
    assert "Too many failed logins" in page and "15 minutes" in page
    # Locked means locked: the right password is refused too.
    client, response = log_in("admin-alice", "right-password")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_admin_lockout_is_per_address_and_per_username(lockout, admin_user):
    other = UserFactory(username="admin-bob", is_staff=True, password="bob-password")
    for _ in range(3):
        log_in("admin-alice", ip="10.0.0.1")

    # The same address, another username: locked (per address).
    assert log_in("admin-bob", "bob-password", ip="10.0.0.1")[1].status_code == 429
    # Another address, the same username: locked (per username).
    assert log_in("admin-alice", "right-password", ip="10.0.0.2")[1].status_code == 429
    # Another address and username: logs in.
    client, response = log_in("admin-bob", "bob-password", ip="10.0.0.3")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(other.pk)


def test_logging_in_to_ones_own_account_does_not_clear_the_count(lockout, admin_user):
    UserFactory(username="mallory", is_staff=True, password="mallory-password")
    for _ in range(2):
        log_in("admin-alice", ip="10.0.3.1")
    assert log_in("mallory", "mallory-password", ip="10.0.3.1")[1].status_code == 302

    assert log_in("admin-alice", ip="10.0.3.1")[1].status_code == 429


def test_admin_lockout_answers_json_when_asked(lockout, admin_user):
    for _ in range(3):
        _, response = log_in("admin-alice", HTTP_ACCEPT="application/json")
    assert response.status_code == 429 and response["Retry-After"] == str(15 * 60)
    assert response.json() == {
        "detail": "Too many failed logins from this address or for this username.",
        "retry_after": 900,
    }


def test_admin_lockout_ends_after_the_cool_off_or_a_reset(lockout, admin_user):
    for _ in range(3):
        log_in("admin-alice")
    assert log_in("admin-alice", "right-password")[1].status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert log_in("admin-alice", "right-password")[1].status_code == 302

    for _ in range(3):
        log_in("admin-alice")
    call_command("axes_reset_username", "admin-alice")
    assert log_in("admin-alice", "right-password")[1].status_code == 302


def test_the_api_token_endpoint_is_not_locked_by_admin_failures(lockout, admin_user):
    for _ in range(3):
        log_in("admin-alice")
    assert ask_token("admin-alice", "right-password").status_code == 200


def test_failed_token_requests_count_towards_the_admin_lockout(lockout, admin_user):
    # One guessing budget per account: the token endpoint is no way around the admin's lockout.
    for n in range(3):
        assert ask_token("admin-alice", REMOTE_ADDR=f"10.0.2.{n}").status_code == 400
    assert log_in("admin-alice", "right-password", ip="10.0.2.9")[1].status_code == 429


# --- the default cache is shared between processes ------------------------------------------


def test_without_redis_the_cache_is_shared_by_every_process(tmp_path):
    code = (
        "import sys, django; django.setup(); from django.core.cache import cache; "
        "from django.conf import settings; "
        "cache.set('shared', 'from-1') if sys.argv[1] == 'set' else "
        "print(cache.get('shared'), settings.CACHES['default']['LOCATION'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", CONCORD_VAR_DIR=str(tmp_path))

    def run(arg: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code, arg],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    run("set")
    assert run("get") == f"from-1 {tmp_path / 'cache'}"
