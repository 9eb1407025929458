"""Record-lifecycle test helpers: contacts pushed to Salesforce by a first cycle, the push delete
rule turned on, every Contact of the org read back (the recycle bin's too), and contacts linked
to made-up remote twins without a sandbox."""

from __future__ import annotations

from crm import sources
from crm.services.records import RecordInput, write_records
from syncengine.models import ObjectMapping, RecordLink
from syncengine.services.mappings import set_delete_rules
from tests.factories import RecordLinkFactory


def contact_mapping(integration) -> ObjectMapping:
    return ObjectMapping.objects.get(integration=integration, remote_object="Contact")


def pushed_contacts(contacts, run, count: int, prefix: str = "c") -> list[int]:
    """`count` Concord contacts, pushed to Salesforce by a first cycle; their ids."""
    ids = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": f"{prefix}{i}@x.com", "lastname": f"L{i}"})
            for i in range(count)
        ],
        mode="create",
        source="user",
    ).ids
    cycle = run()
    assert cycle.status == "success", cycle.message
    return ids


def delete_in_salesforce(integration) -> ObjectMapping:
    """Turn the Contact mapping's push delete rule on, confirmed."""
    return set_delete_rules(
        object_mapping=contact_mapping(integration),
        push_delete_rule="delete",
        confirm_deletes=True,
    )


def all_contacts(sandbox) -> list[dict]:
    """Every Contact in the org, the recycle bin's too (queryAll)."""
    return sandbox.client().query_all(
        "SELECT Id, IsDeleted, Concord_Id__c FROM Contact", include_deleted=True
    )["records"]


def delete_remotely(sandbox, remote_ids: list[str]) -> None:
    """Delete Contacts in Salesforce as a user would, in collections of 200 (to the recycle bin)."""
    client = sandbox.client()
    for start in range(0, len(remote_ids), 200):
        ids = ",".join(remote_ids[start : start + 200])
        client.restful("composite/sobjects", method="DELETE", params={"ids": ids})


def link_records(om, n: int, *, start: int = 0) -> list[RecordLink]:
    """n contacts made through the services, each linked to a remote twin of the mapping."""
    ids = write_records(
        object_type=om.object_type,
        mode="create",
        source=sources.API,
        inputs=[
            RecordInput({"email": f"p{i}@example.com", "firstname": f"Pat{i}", "lastname": "Doe"})
            for i in range(start, start + n)
        ],
    ).ids
    # The change hook queued the new records for a push (unlinked links): link them instead.
    RecordLink.objects.filter(record_id__in=ids).delete()
    links = [
        RecordLinkFactory.build(object_mapping=om, record_id=record_id, remote_id=f"003X{i:014d}")
        for i, record_id in zip(range(start, start + n), ids, strict=True)
    ]
    return RecordLink.objects.bulk_create(links)
