"""Fixtures of the backup tests: a private backup storage and eager tasks (the helpers are in
tests/support/backups.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def backup_storage(settings, tmp_path):
    """Backups written under the test's own directory, on the Enterprise plan by default."""
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }
    settings.CONCORD_PLAN = "enterprise"
    settings.CONCORD_SSO_BACKENDS = ["tests.support.backups.SsoBackend"]
    return tmp_path / "backups"


@pytest.fixture(autouse=True)
def eager_tasks(request):
    """Tasks enqueued on commit run in-process, except where a real worker is the point."""
    if request.node.get_closest_marker("worker"):
        yield
        return
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
