"""Bulk pushes keep the org busy: each job is sent before the previous one's answers are
written, every answer is still written, and a mapping referencing its own object sends one job
at a time (a record's target must be in the remote before the record is prepared)."""

from __future__ import annotations

import pytest
from simple_salesforce.bulk2 import _Bulk2Client
from simple_salesforce.exceptions import SalesforceBulkV2LoadError

from crm.models import AssociationDefinition
from crm.services.records import RecordInput, write_records
from syncengine.connectors.base import TransientError
from syncengine.engine import push
from syncengine.models import ObjectMapping, RecordLink, ReferenceMapping
from syncengine.services.integrations import build_connector
from tests.support.sync import no_sleep, stage_of


@pytest.fixture
def jobs_of_ten(monkeypatch):
    """Bulk jobs of 10 records above 10 records: a 35-record stage sends four."""
    monkeypatch.setattr(push, "BULK_THRESHOLD", 10)
    monkeypatch.setattr(push, "BULK_JOB_SIZE", 10)


@pytest.fixture
def events(monkeypatch):
    """("start", first record id) and ("settle", first record id) in the order they happen."""
    seen: list[tuple[str, int]] = []
    start, settle = push._start_bulk, push._settle_bulk

    def recording_start(run, om, payloads, *, new):
        seen.append(("start", payloads[0][0].record_id))
        return start(run, om, payloads, new=new)

    def recording_settle(run, om, usable, prepared, job, new, stage):
        seen.append(("settle", prepared.payloads[0][0].record_id))
        return settle(run, om, usable, prepared, job, new, stage)

    monkeypatch.setattr(push, "_start_bulk", recording_start)
    monkeypatch.setattr(push, "_settle_bulk", recording_settle)
    return seen


def _contacts(contacts, count: int) -> list[int]:
    inputs = [
        RecordInput(properties={"email": f"pipe{i}@x.com", "lastname": f"Pipe {i}"})
        for i in range(count)
    ]
    return write_records(object_type=contacts, inputs=inputs, mode="create", source="api").ids


def test_each_job_is_sent_before_the_previous_ones_answers_are_written(
    integration, sandbox, run, contacts, jobs_of_ten, events
):
    ids = _contacts(contacts, 35)

    cycle = run()

    firsts = ids[0], ids[10], ids[20], ids[30]
    assert events == [
        ("start", firsts[0]),
        ("start", firsts[1]),
        ("settle", firsts[0]),
        ("start", firsts[2]),
        ("settle", firsts[1]),
        ("start", firsts[3]),
        ("settle", firsts[2]),
        ("settle", firsts[3]),
    ]
    stage = stage_of(cycle, "push_new", "Contact")
    assert (stage.new, stage.failed) == (35, 0) and "Bulk API" in stage.message
    assert sandbox.count("Contact") == 35
    assert RecordLink.objects.filter(remote_id__isnull=False, dirty=False).count() == 35
    assert stage_of(run(), "push_new", "Contact").api_calls == 0  # nothing left to send


def test_answers_of_a_sent_job_are_written_when_the_next_cannot_be_sent(
    integration, sandbox, run, contacts, jobs_of_ten, events, monkeypatch
):
    ids = _contacts(contacts, 25)
    start = push._start_bulk
    sent = []

    def second_refused(run, om, payloads, *, new):
        if sent:
            raise TransientError("the org is unavailable")
        sent.append(payloads)
        return start(run, om, payloads, new=new)

    monkeypatch.setattr(push, "_start_bulk", second_refused)

    run()

    # The first job's ten records are linked; the rest wait, dirty, for the next cycle.
    linked = RecordLink.objects.filter(remote_id__isnull=False, dirty=False)
    assert sorted(linked.values_list("record_id", flat=True)) == ids[:10]
    monkeypatch.setattr(push, "_start_bulk", start)
    run()
    assert RecordLink.objects.filter(remote_id__isnull=False, dirty=False).count() == 25
    assert sandbox.count("Contact") == 25


def test_a_mapping_referencing_its_own_object_sends_one_job_at_a_time(
    integration, sandbox, run, contacts, jobs_of_ten, events
):
    mapping = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    reports_to = AssociationDefinition.objects.create(
        from_object_type=contacts, to_object_type=contacts, label="Reports to"
    )
    ReferenceMapping.objects.create(
        object_mapping=mapping, remote_field="ReportsToId", definition=reports_to, target=mapping
    )
    ids = _contacts(contacts, 25)

    run()

    firsts = ids[0], ids[10], ids[20]
    assert events == [
        ("start", firsts[0]),
        ("settle", firsts[0]),
        ("start", firsts[1]),
        ("settle", firsts[1]),
        ("start", firsts[2]),
        ("settle", firsts[2]),
    ]
    assert sandbox.count("Contact") == 25


def test_a_job_whose_upload_failed_is_aborted_not_left_open(integration, sandbox, monkeypatch):
    # The records are sent again next cycle: a transient failure, as a failed job is.
    def refused(self, job_id, data, content_url=None):
        raise SalesforceBulkV2LoadError("Failed to upload job data. Error Code 500.")

    monkeypatch.setattr(_Bulk2Client, "upload_job_data", refused)
    connector = build_connector(integration=integration, sleep=no_sleep)

    with pytest.raises(TransientError, match="Bulk API job for Contact failed"):
        connector.start_bulk_upsert("Contact", "Concord_Id__c", [{"Concord_Id__c": "1"}])

    jobs = connector.sf.restful("jobs/ingest")["records"]
    assert [job["state"] for job in jobs] == ["Aborted"]
