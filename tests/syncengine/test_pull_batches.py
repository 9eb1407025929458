"""A pull applies each batch of rows with Python's garbage collector paused (crm.gc_pause),
and on again once the batch is written."""

from __future__ import annotations

import gc

import pytest

from crm.models import Record
from syncengine.engine import pull
from tests.support.collector import collector_states

pytestmark = pytest.mark.django_db


def test_a_pulled_batch_is_planned_and_written_with_the_collector_paused(
    integration, sandbox, run, contacts, monkeypatch
):
    collecting = collector_states(monkeypatch, pull, "_plan")
    sandbox.create("Contact", LastName="Pulled", Email="pulled@x.com")

    run()

    assert Record.objects.filter(properties__email="pulled@x.com").exists()
    assert collecting and not any(collecting)
    assert gc.isenabled()
