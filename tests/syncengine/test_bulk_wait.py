"""Waiting for Bulk API 2.0 ingest jobs: short looks first, doubling up to a second."""

from __future__ import annotations

import itertools

import pytest
from simple_salesforce.exceptions import SalesforceOperationError

from syncengine.connectors.salesforce import bulk_wait


def test_pauses_start_short_and_double_up_to_a_second():
    pauses = list(itertools.islice(bulk_wait.poll_pauses(), 8))
    assert pauses == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def _job_states(*states):
    looks = iter(states)
    seen = []

    def get_job(job_id, is_query):
        seen.append((job_id, is_query))
        return {"state": next(looks), "errorMessage": "boom"}

    return get_job, seen


def test_a_finished_job_is_seen_after_a_few_short_looks():
    get_job, seen = _job_states("UploadComplete", "InProgress", "JobComplete")
    slept = []
    job = bulk_wait.wait_for_ingest_job(get_job, "750x", sleep=slept.append)
    assert job["state"] == "JobComplete"  # the last look's answer, counts and all
    assert slept == [0.05, 0.1, 0.2]  # 0.35 s of waiting, not the second it used to be
    assert seen == [("750x", False)] * 3


@pytest.mark.parametrize("state", ["Failed", "Aborted"])
def test_a_failed_or_aborted_job_raises_as_simple_salesforce_does(state):
    get_job, _ = _job_states("InProgress", state)
    with pytest.raises(SalesforceOperationError, match="boom"):
        bulk_wait.wait_for_ingest_job(get_job, "750x", sleep=lambda s: None)


def test_a_job_that_outlasts_the_timeout_raises():
    get_job, _ = _job_states(*["InProgress"] * 10)
    clock = itertools.count(0, bulk_wait.TIMEOUT / 3).__next__
    with pytest.raises(SalesforceOperationError, match="timeout"):
        bulk_wait.wait_for_ingest_job(get_job, "750x", sleep=lambda s: None, clock=clock)
