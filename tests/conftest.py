"""The suite's hooks, and its shared fixtures registered as plugins from tests/support/.

Tests that need PostgreSQL, Redis, a real worker or Chromium say so with a marker, and are
skipped with a printed reason (pytest -rs) where those are not available."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import StreamingHttpResponse

# Helpers in tests/support/ assert too: their failures show the values, as in a test.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.schema",
    "tests.support.clients",
    "tests.support.workers",
    "tests.support.browser",
    "tests.support.salesforce_sandbox",
    "tests.support.google_sandbox",
]


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
    from tests.support.browser import CHROMIUM

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
