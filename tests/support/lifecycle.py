"""Record-lifecycle test helpers with Salesforce: contacts pushed by a first cycle, the push
delete rule turned on, and every Contact of the org read back (the recycle bin's too)."""

from __future__ import annotations

from crm.services.records import RecordInput, write_records
from syncengine.models import ObjectMapping
from syncengine.services.mappings import set_delete_rules


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
