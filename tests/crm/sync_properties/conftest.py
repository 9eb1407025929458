"""Fixtures of the sync-property tests: tasks run inline (task_always_eager) once the writing
transaction's on-commit callbacks run, which `commit()` makes happen inside the test's
transaction; and a synced contact."""

from __future__ import annotations

import pytest

from tests.support.sync_properties import company, contact, link, make_sync, value


@pytest.fixture
def eager(settings):
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def commit(django_capture_on_commit_callbacks, eager):
    """Run the block, then its on-commit callbacks (and theirs): what a real commit does."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def synced(crm_schema, commit):
    """Ada works at Acme (Primary); contacts.company_name copies companies.name."""
    with commit():
        ada = contact("ada@example.com")
        acme = company("Acme")
        link(ada, acme, "Primary")
        prop = make_sync()
    assert value(ada) == "Acme"
    return ada, acme, prop


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client
