"""Contact-role test helpers: deals and contacts made through the services, and the roles a
deal's link remembers (Salesforce's OpportunityContactRole junction)."""

from __future__ import annotations

from crm.services.records import RecordInput, create_record, write_records
from syncengine.models import RecordLink

OCR = "OpportunityContactRole"


def make_deal(deals, name: str = "Big deal"):
    return create_record(
        object_type=deals,
        properties={"dealname": name, "dealstage": "closedwon", "closedate": "2030-01-01"},
        source="user",
    )


def make_contacts(contacts, n: int, prefix: str = "c") -> list[int]:
    inputs = [
        RecordInput(properties={"email": f"{prefix}{i}@x.com", "lastname": "C"}) for i in range(n)
    ]
    return write_records(object_type=contacts, inputs=inputs, mode="create", source="api").ids


def remote_id(record_id: int) -> str:
    return RecordLink.objects.get(record_id=record_id).remote_id


def roles_of(deal) -> dict[str, str]:
    return RecordLink.objects.get(record=deal).agreed.get(OCR, {})
