"""Echo-free pulls against the strict Salesforce sandbox: the cycle after a push does not read
back the records Concord created, while anyone else's edit (the org's second user) still
arrives, even one made between Concord's pull and its update of the record; an object whose
automation rewrites Concord's writes can ask for them to be read back."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from crm.services.records import create_record, update_record
from syncengine.connectors.base import PulledRows
from syncengine.connectors.salesforce.client import SalesforceConnector
from syncengine.connectors.salesforce.mapping import soql_id
from syncengine.engine import echoes
from syncengine.engine import push as push_module
from syncengine.models import ObjectMapping, RecordLink
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def pulled_rows(monkeypatch) -> list[int]:
    """The rows each Salesforce pull returns (the real connector, counted)."""
    counts: list[int] = []
    real = SalesforceConnector.pull_changes

    def counted(self, remote_object, fields, since=None, cursor="", own_writes=None):
        rows = real(self, remote_object, fields, since, cursor, own_writes=own_writes)
        if remote_object != "Contact":
            return rows
        counts.append(0)

        def each():
            for row in rows:
                counts[-1] += 1
                yield row

        return PulledRows(each())

    monkeypatch.setattr(SalesforceConnector, "pull_changes", counted)
    return counts


def pushed_contacts(contacts, run, count: int = 3) -> list[int]:
    ids = [
        create_record(
            object_type=contacts,
            properties={"email": f"echo{i}@example.com", "lastname": f"Echo {i}"},
            source="user",
        ).pk
        for i in range(count)
    ]
    cycle = run()
    assert stage_of(cycle, "push_new", "Contact").new == count
    return ids


def test_the_cycle_after_a_push_reads_none_of_it_back(
    integration, sandbox, run, contacts, pulled_rows
):
    pushed_contacts(contacts, run)
    mapping = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    [(created_from, written_until)] = mapping.own_writes  # the org's clock around the push
    assert created_from <= written_until

    pulled_rows.clear()
    cycle = run()

    assert pulled_rows == [0]
    assert stage_of(cycle, "pull_updates", "Contact").updated == 0
    # The watermark settles at Concord's last write: the next pull asks from there.
    mapping.refresh_from_db()
    assert mapping.watermark.isoformat() == mapping.own_writes[-1][1]


def test_an_edit_by_someone_else_after_the_push_is_pulled(
    integration, sandbox, run, contacts, pulled_rows
):
    ids = pushed_contacts(contacts, run)
    remote_id = RecordLink.objects.get(record_id=ids[0]).remote_id

    sandbox.update("Contact", remote_id, Title="Head of Echoes")  # by the org's second user
    pulled_rows.clear()
    cycle = run()

    assert pulled_rows == [1]  # that record only, not the other two Concord wrote
    assert stage_of(cycle, "pull_updates", "Contact").updated == 1
    assert contacts.records.get(pk=ids[0]).properties["jobtitle"] == "Head of Echoes"


def test_concords_update_read_back_merges_nothing(integration, sandbox, run, contacts, pulled_rows):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Given contacts Concord created in Salesforce without most fields (they stay blank there)
    ids = pushed_contacts(contacts, run)
    run()
    link = RecordLink.objects.get(record_id=ids[0])
    assert link.agreed["Phone"] is None and link.agreed["AccountId"] is None
    # And one of them updated in Concord and pushed
    update_record(
        record=contacts.records.get(pk=ids[0]), properties={"jobtitle": "CTO"}, source="user"
    )
    assert stage_of(run(), "push_updates", "Contact").updated == 1
    # When the next cycle reads that update back (Concord's own: it may hide someone's edit)
    pulled_rows.clear()
    with CaptureQueriesContext(connection) as queries:
        cycle = run()
    # Then it is read (with those created in its second), holds the values agreed, and
    # nothing is merged or written
    [read] = pulled_rows
    assert read >= 1
    pulled = stage_of(cycle, "pull_updates", "Contact")
    assert (pulled.skipped, pulled.updated) == (read, 0)
    assert not [q for q in queries.captured_queries if '"crm_record"."properties"' in q["sql"]]
    assert RecordLink.objects.get(pk=link.pk).remote_modstamp is not None  # the stamp read


def test_a_new_records_blank_fields_are_agreed_as_the_remote_holds_them():
    fields = [
        SimpleNamespace(pk=1, rule="two_way", remote_field="Phone"),
        SimpleNamespace(pk=2, rule="always_concord", remote_field="HasOptedOutOfEmail"),
        SimpleNamespace(pk=3, rule="two_way", remote_field="LastName"),
        SimpleNamespace(pk=4, rule="two_way", remote_field="Department"),  # not writable
        SimpleNamespace(pk=5, rule="two_way", remote_field="Gone__c"),  # left the schema
        SimpleNamespace(pk=6, rule="always_remote", remote_field="Title"),  # pulled only
    ]
    refs = [
        SimpleNamespace(rule="two_way", remote_field="AccountId"),
        SimpleNamespace(rule="pull", remote_field="ReportsToId"),  # pulled only
    ]
    usable = SimpleNamespace(fields=fields, pushable={1, 2, 3, 5, 6}, refs=refs)
    schema = {"Phone": {"type": "phone"}, "HasOptedOutOfEmail": {"type": "boolean"},
              "LastName": {"type": "string"}, "Department": {"type": "string"},
              "Title": {"type": "string"},
              "AccountId": {"type": "reference"}, "ReportsToId": {"type": "reference"}}  # fmt: skip
    om = SimpleNamespace(remote_schema=schema)
    blanks = push_module._left_blank(om, usable, {"LastName": "Echo"})
    assert blanks == {"Phone": None, "HasOptedOutOfEmail": False, "AccountId": None}


def test_an_edit_made_between_the_pull_and_concords_update_is_read_next_time(
    integration, sandbox, run, contacts, pulled_rows, monkeypatch
):
    ids = pushed_contacts(contacts, run)
    run()  # the creates' cycle is over: nothing read back
    remote_id = RecordLink.objects.get(record_id=ids[0]).remote_id
    update_record(
        record=contacts.records.get(pk=ids[0]), properties={"lastname": "Renamed"}, source="user"
    )
    real_push = push_module.push

    def someone_edits_before_the_push(run, om, *, new):
        if not new and om.remote_object == "Contact":
            # The org's second user edits the record after this cycle's pull has read Contacts.
            sandbox.update("Contact", remote_id, Title="Edited meanwhile")
        return real_push(run, om, new=new)

    monkeypatch.setattr(push_module, "push", someone_edits_before_the_push)
    run()  # pulls (nothing yet), then pushes the new last name over the edited record
    assert sandbox.get("Contact", remote_id)["LastModifiedById"] == integration.remote_user_id
    monkeypatch.setattr(push_module, "push", real_push)

    pulled_rows.clear()
    run()

    # Concord's update does not hide the record: it existed before, so the pull reads it (and,
    # when the update fell in the create span's last second, the other two are read back too).
    assert pulled_rows[0] in (1, 3)
    assert contacts.records.get(pk=ids[0]).properties["jobtitle"] == "Edited meanwhile"


def test_an_object_with_remote_automation_reads_concords_writes_back(
    integration, sandbox, run, contacts, pulled_rows
):
    ObjectMapping.objects.filter(integration=integration, remote_object="Contact").update(
        reread_own_writes=True
    )
    pushed_contacts(contacts, run)

    pulled_rows.clear()
    cycle = run()

    assert pulled_rows == [3]
    assert stage_of(cycle, "pull_updates", "Contact").updated == 0  # read, found unchanged


@pytest.mark.parametrize(
    "bad", ["", "005' OR Name != '", "005RS000000001AYAQX", "005-RS0000000001"]
)
def test_a_user_id_that_is_not_a_salesforce_id_never_reaches_soql(bad):
    with pytest.raises(ValueError, match="not a Salesforce id"):
        soql_id(bad)


def test_a_salesforce_id_is_quoted_as_is():
    assert soql_id("005RS000000001AYAQ") == "'005RS000000001AYAQ'"
    assert soql_id("005RS000000001A") == "'005RS000000001A'"


def answered(at: dt.datetime, **created_from) -> SimpleNamespace:
    """A cycle whose remote last answered `at` (the parts of a runner echoes.py reads)."""
    return SimpleNamespace(connector=SimpleNamespace(answered_at=at), created_from=created_from)


@pytest.mark.parametrize("overwrite", ["update", "delete"])
def test_an_overwrite_in_the_last_second_of_a_span_ends_the_span_a_second_earlier(
    integration, sandbox, run, contacts, overwrite
):
    # An edit someone makes just before Concord's update (or an undelete just after its delete)
    # in that second leaves Concord's user as the last modifier: the pull must not take the
    # record for one of Concord's untouched creates.
    pushed_contacts(contacts, run)
    mapping = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    [[start, end]] = mapping.own_writes
    end = dt.datetime.fromisoformat(end)

    echoes.overwrote(answered(end), mapping)

    mapping.refresh_from_db()
    if end - dt.timedelta(seconds=1) >= dt.datetime.fromisoformat(start):
        assert mapping.own_writes == [[start, (end - dt.timedelta(seconds=1)).isoformat()]]
    else:
        assert mapping.own_writes == []  # the span was that one second: nothing is left out
    # An overwrite answered a second after the span leaves it alone.
    before = mapping.own_writes
    echoes.overwrote(answered(end + dt.timedelta(seconds=1)), mapping)
    mapping.refresh_from_db()
    assert mapping.own_writes == before


def test_a_span_starts_after_the_previous_one_ends(integration, contacts):
    # Cycles seconds apart: the second's span never covers a record the first created, so a
    # later overwrite of that record is judged by the first span alone.
    mapping = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    noon = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.UTC)
    mapping.own_writes = [[noon.isoformat(), noon.isoformat()]]
    cycle = answered(noon)

    echoes.creating(cycle, mapping)
    cycle.connector.answered_at = noon + dt.timedelta(seconds=2)
    echoes.created(cycle, mapping)

    second, third = (noon + dt.timedelta(seconds=1)), (noon + dt.timedelta(seconds=2))
    assert cycle.created_from == {mapping.pk: second}
    assert mapping.own_writes == [
        [noon.isoformat(), noon.isoformat()],
        [second.isoformat(), third.isoformat()],
    ]


def test_records_created_in_the_second_the_previous_span_ends_are_in_it(integration, contacts):
    mapping = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    noon = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.UTC)
    mapping.own_writes = [[noon.isoformat(), noon.isoformat()]]
    cycle = answered(noon)

    echoes.creating(cycle, mapping)
    echoes.created(cycle, mapping)  # answered within that second: no span of its own

    assert mapping.own_writes == [[noon.isoformat(), noon.isoformat()]]


def test_references_written_in_a_cycle_that_created_nothing_are_overwrites(integration, contacts):
    mapping = ObjectMapping.objects.get(integration=integration, remote_object="Contact")
    noon = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.UTC)
    mapping.own_writes = [[noon.isoformat(), noon.isoformat()]]

    echoes.wrote_references(answered(noon), mapping)  # an older record's waiting reference

    assert mapping.own_writes == []
