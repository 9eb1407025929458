"""Secrets and production settings: no process serves on the repository's secrets outside DEBUG,
and CONCORD_HTTPS=1 makes `check --deploy` clean. Settings come from the environment, so the
end-to-end cases run a fresh interpreter."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config import security
from config.demo_env import write_demo_env
from syncengine import crypto

ROOT = Path(__file__).resolve().parent.parent


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CONCORD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "crm.example.com",
        **overrides,
    }


def run(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    # Only what the case sets: no Django or Concord variable from the test run (the browser
    # tests set DJANGO_ALLOW_ASYNC_UNSAFE, which `check --deploy` rightly reports).
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CONCORD_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings", CONCORD_VAR_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def ids(messages) -> set[str]:
    return {m.id for m in messages}


# --- the checks themselves ---------------------------------------------------------------------


def test_default_secret_key_is_an_error_outside_debug(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = security.PLACEHOLDER_SECRET_KEY
    assert ids(security.check_secret_key()) == {"concord.E001"}
    # Concord's earlier default is just as public.
    settings.SECRET_KEY = "insecure-demo-key-set-DJANGO_SECRET_KEY-in-production"
    assert ids(security.check_secret_key()) == {"concord.E001"}
    settings.DEBUG = True
    assert security.check_secret_key() == []


@pytest.mark.parametrize(
    "key",
    ["short-but-random-Zq8", "a" * 60, "django-insecure-" + secrets.token_urlsafe(50)],
    ids=["short", "one-character", "django-insecure-prefix"],  # the same ids in every process
)
def test_weak_secret_keys_are_errors_outside_debug(settings, key):
    settings.DEBUG = False
    settings.SECRET_KEY = key
    assert ids(security.check_secret_key()) == {"concord.E002"}


def test_missing_encryption_keys_are_an_error_outside_debug_and_a_warning_in_it(settings):
    settings.CONCORD_ENCRYPTION_KEYS = []
    settings.DEBUG = False
    assert ids(security.check_encryption_keys()) == {"concord.E003"}
    settings.DEBUG = True
    assert ids(security.check_encryption_keys()) == {"concord.W001"}


def test_malformed_encryption_keys_are_an_error_even_in_debug(settings):
    settings.DEBUG = True
    settings.CONCORD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "not-a-fernet-key"]
    [error] = security.check_encryption_keys()
    assert error.id == "concord.E004" and "positions 2" in error.msg


def test_good_secrets_pass(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.CONCORD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert security.check_secret_key() == [] and security.check_encryption_keys() == []


def test_encryption_keys_are_never_derived_from_the_secret_key(settings):
    settings.CONCORD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="CONCORD_ENCRYPTION_KEYS"):
        crypto.encrypt("refresh-me")
    with pytest.raises(ImproperlyConfigured, match="CONCORD_ENCRYPTION_KEYS"):
        crypto.decrypt("gAAAAA-anything")


# --- every entry point refuses ---------------------------------------------------------------


def test_manage_py_check_refuses_the_repository_defaults(tmp_path):
    for args in (["manage.py", "check"], ["manage.py", "check", "--deploy"]):
        result = run(tmp_path, args, DJANGO_DEBUG="0")
        assert result.returncode != 0
        assert "concord.E001" in result.stderr and "concord.E003" in result.stderr


def test_development_mode_needs_no_secrets(tmp_path):
    result = run(tmp_path, ["manage.py", "check"], DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "concord.W001" in result.stderr and "concord.E" not in result.stderr


def test_wsgi_application_refuses_the_repository_defaults(tmp_path):
    result = run(tmp_path, ["-c", "import config.wsgi"])
    assert result.returncode != 0
    assert "web server refuses to start" in result.stderr
    assert "concord.E001" in result.stderr and "concord.E003" in result.stderr
    assert run(tmp_path, ["-c", "import config.wsgi"], **production_env()).returncode == 0


@pytest.mark.parametrize("command", [["worker", "--pool=solo"], ["beat"]])
def test_celery_worker_and_beat_refuse_the_repository_defaults(tmp_path, command):
    result = run(tmp_path, ["-m", "celery", "-A", "config", *command, "-l", "warning"])
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "refuses to start" in output and "concord.E001" in output
    assert "concord.E003" in output


# --- the HTTPS switch ----------------------------------------------------------------------


def test_check_deploy_is_clean_with_secrets_and_the_https_switch(tmp_path):
    result = run(
        tmp_path,
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **production_env(CONCORD_HTTPS="1"),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_without_the_https_switch_check_deploy_warns(tmp_path):
    result = run(tmp_path, ["manage.py", "check", "--deploy"], **production_env())
    assert result.returncode == 0  # warnings only
    for check_id in ("W004", "W008", "W012", "W016"):
        assert f"security.{check_id}" in result.stderr


def test_the_https_switch_sets_hsts_redirect_cookies_and_proxy_header(tmp_path):
    probe = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER]))"
    )
    on = run(tmp_path, ["-c", probe], **production_env(CONCORD_HTTPS="1"))
    assert on.stdout.strip() == (
        '[31536000, true, true, true, true, true, ["HTTP_X_FORWARDED_PROTO", "https"]]'
    )
    off = run(tmp_path, ["-c", probe], **production_env())
    assert off.stdout.strip() == "[0, false, false, false, false, false, null]"


# --- the demo's secrets ------------------------------------------------------------------------


def test_demo_env_is_random_written_once_and_passes_the_checks(tmp_path):
    path = tmp_path / "var" / "demo.env"
    assert write_demo_env(path) is True
    first = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert write_demo_env(path) is False and path.read_text() == first  # kept across restarts
    assert write_demo_env(tmp_path / "other.env") and (tmp_path / "other.env").read_text() != first
    env = dict(line.split("=", 1) for line in first.splitlines())
    assert set(env) == {"DJANGO_SECRET_KEY", "CONCORD_ENCRYPTION_KEYS"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["demo.env"]  # no leftovers
    result = run(tmp_path, ["manage.py", "check"], **env)
    assert result.returncode == 0, result.stderr
