"""`collector_paused` (crm/gc_pause.py): the cyclic garbage collector is off for one batch of
bulk work and on again after it, whatever happens inside; a batch nested in another leaves it
to the outer one; and a bulk write runs with it paused."""

from __future__ import annotations

import gc

import pytest

from crm.gc_pause import collector_paused
from crm.services import records
from tests.support.collector import collector_states


def test_the_collector_is_paused_for_the_block_and_back_after_it():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_back_after_an_error_in_the_block():
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a batch failed")
    assert gc.isenabled()


def test_a_nested_batch_leaves_the_collector_to_the_outer_one():
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer batch is still running
    assert gc.isenabled()


def test_a_process_that_turned_the_collector_off_keeps_it_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.django_db
def test_a_bulk_write_plans_and_applies_with_the_collector_paused(contacts, monkeypatch):
    seen = collector_states(monkeypatch, records, "apply_plan")
    result = records.write_records(
        object_type=contacts,
        inputs=[records.RecordInput(properties={"firstname": f"Ada {i}"}) for i in range(3)],
        mode="create",
        source="api",
    )
    assert len(result.ids) == 3
    assert seen == [False] and gc.isenabled()
