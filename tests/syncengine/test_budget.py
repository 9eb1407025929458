"""The API budget: calls are counted, the allocation is never exceeded (the sandbox's own
count proves it), and a cycle that runs out ends Incomplete and the next one resumes."""

from __future__ import annotations

import pytest

from crm.services.records import RecordInput, write_records
from syncengine.models import Integration
from syncengine.selectors import get_api_usage
from tests.support.sync import stage_of

pytestmark = pytest.mark.django_db


def test_cycle_stops_incomplete_at_the_allocation_and_resumes(integration, sandbox, run, contacts):
    write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"b{i}@x.com", "lastname": "B"}) for i in range(500)
        ],
        mode="create",
        source="api",
    )
    # Given room for the describe, the users, the pulls and one collection call only
    Integration.objects.filter(pk=integration.pk).update(api_allocation=4 + 1 + 8 + 1)
    used_before = sandbox.api_used()
    cycle = run()
    assert cycle.status == "incomplete"
    stage = stage_of(cycle, "push_new", "Contact")
    assert (stage.status, stage.new) == ("incomplete", 200)
    # The engine never went over: the sandbox counted exactly what Concord allowed itself
    assert sandbox.api_used() - used_before == 14
    assert get_api_usage(integration=integration)["used_24h"] == 14
    assert sandbox.count("Contact") == 200
    # When staff raise the allocation, the next cycle picks up where this one stopped
    Integration.objects.filter(pk=integration.pk).update(api_allocation=1000)
    cycle = run()
    assert cycle.status == "success"
    stage = stage_of(cycle, "push_new", "Contact")
    assert (stage.status, stage.new, stage.api_calls) == ("cleanup", 300, 2)
    assert sandbox.count("Contact") == 500


def test_org_limit_reached_stops_the_cycle_incomplete(integration, sandbox, run, contacts):
    used = sandbox.api_used()
    sandbox.control("PATCH", "limits", json={"daily_api_limit": used + 3})
    cycle = run()
    assert cycle.status == "incomplete"
    assert "limit" in cycle.message.lower()
    integration.refresh_from_db()
    assert integration.api_limit == used + 3  # as Salesforce reported it
    sandbox.control("PATCH", "limits", json={"daily_api_limit": 15000})


def test_usage_counts_every_call(integration, sandbox, run):
    before = sandbox.api_used()
    cycle = run()
    integration.refresh_from_db()
    usage = get_api_usage(integration=integration)
    assert usage["used_24h"] == cycle.api_calls == sandbox.api_used() - before
    assert usage["limit"] == 15000


class Crash(BaseException):
    """Stands for the worker dying while a call is on its way: nothing catches it."""


def test_a_call_counts_as_soon_as_it_is_sent(integration, sandbox, monkeypatch):
    import requests

    from syncengine.services.integrations import build_connector
    from syncengine.services.usage import DatabaseMeter, used_in_window

    connector = build_connector(integration=integration, meter=DatabaseMeter(integration))
    before = used_in_window(integration=integration)

    def die_waiting(*args, **kwargs):
        raise Crash

    with monkeypatch.context() as patched, pytest.raises(Crash):
        patched.setattr(requests.Session, "request", die_waiting)
        connector.describe("Contact")
    # The call was sent: it counts although no answer came, so a crash never hides usage
    assert used_in_window(integration=integration) == before + 1
