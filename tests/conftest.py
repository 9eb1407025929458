"""Shared fixtures. Tests that need PostgreSQL, Redis, a real worker or Chromium say so with a
marker, and are skipped with a printed reason (pytest -rs) where those are not available."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.http import StreamingHttpResponse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.roles import grant_role

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


# Streamed answers (CSV exports, downloads) that a test did not read to the end. On PostgreSQL an
# export reads through a server-side cursor, which the test's rollback destroys; left to the
# garbage collector, the generator would close that cursor later, inside another test's
# transaction, and abort it ("current transaction is aborted"). So each is closed as soon as its
# test ends, before its fixtures (and the database transaction) are torn down.
_streamed_answers: weakref.WeakSet[StreamingHttpResponse] = weakref.WeakSet()
_streaming_init = StreamingHttpResponse.__init__


def _tracked_streaming_init(self, *args, **kwargs):
    _streaming_init(self, *args, **kwargs)
    _streamed_answers.add(self)


StreamingHttpResponse.__init__ = _tracked_streaming_init


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Close the streamed answers the test left open, as a WSGI server would after a request."""
    # As Django's test client does: closing fires request_finished, whose close_old_connections
    # would otherwise close the connection the test's transaction is still on.
    request_finished.disconnect(close_old_connections)
    try:
        for response in list(_streamed_answers):
            response.close()
    finally:
        request_finished.connect(close_old_connections)
        _streamed_answers.clear()


def pytest_collection_modifyitems(config, items):
    has_pg = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    reasons = {
        "postgres": None if has_pg else "needs PostgreSQL: set DATABASE_URL",
        "worker": None
        if (has_pg and has_redis)
        else "needs a real Celery worker: set DATABASE_URL (PostgreSQL) and REDIS_URL",
        "browser": None
        if Path(CHROMIUM).exists()
        else "needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    }
    for item in items:
        for marker, reason in reasons.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle counts (the token endpoint's) start from zero in every test."""
    from django.core.cache import cache

    cache.clear()


def ensure_standard_schema() -> None:
    """Re-seed the standard object types if a transactional test flushed them."""
    from crm.models import ObjectType

    if not ObjectType.objects.exists():
        seed = importlib.import_module("crm.migrations.0002_standard_object_types").seed
        seed(django_apps, connection.schema_editor())


@pytest.fixture
def crm_schema(db):
    ensure_standard_schema()


@pytest.fixture
def contacts(crm_schema):
    from crm.models import ObjectType

    return ObjectType.objects.get(name="contacts")


@pytest.fixture
def companies(crm_schema):
    from crm.models import ObjectType

    return ObjectType.objects.get(name="companies")


@pytest.fixture
def deals(crm_schema):
    from crm.models import ObjectType

    return ObjectType.objects.get(name="deals")


@pytest.fixture
def user(db):
    """A plain user: the User role (records, associations, the schema to read), not staff."""
    return grant_role(UserFactory(), "User")


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def api_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def staff_api_client(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def token_client(user):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real `celery worker` process on Redis, connected to this test's PostgreSQL database."""
    db_name = connection.settings_dict["NAME"]
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{db_name}"
    env = {**os.environ, "DATABASE_URL": url, "CONCORD_EAGER_TASKS": "0"}
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    from config.celery import app

    saved = (app.conf.task_default_queue, app.conf.task_always_eager)
    app.conf.task_default_queue = queue
    app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        # Later tests must not send their tasks to this worker's queue once it is gone.
        app.conf.task_default_queue, app.conf.task_always_eager = saved
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    """Poll until `predicate()` is truthy; returns its value or fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
