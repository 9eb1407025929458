"""Association error chains written straight through the error service (no sandbox): deals
waiting for a company that has an error of its own, as the engine records them."""

from __future__ import annotations

from django.utils import timezone

from crm.models import Record
from syncengine.models import SyncError
from syncengine.services.errors import record_sync_error


def named(object_type, **properties) -> Record:
    """A record with these properties, written directly (no hooks: the tests need rows)."""
    now = timezone.now()
    return Record.objects.create(
        object_type=object_type, properties=properties, created_at=now, updated_at=now
    )


def picklist_error(integration, record: Record, *, value: str = "REAL_ESTATE") -> SyncError:
    """The record's own error: a picklist value Salesforce does not accept."""
    return record_sync_error(
        integration=integration,
        category="picklists",
        code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        message=f"Industry: bad value for restricted picklist field: {value}",
        object_type_id=record.object_type_id,
        record_id=record.pk,
        remote_object="Account",
        remote_field="Industry",
        property_name="industry",
        details={"fields": ["Industry"], "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"},
        affected_record_ids=[record.pk],
    )


def waiting_for(integration, blocking: Record, waiting: list[Record]) -> SyncError:
    """The association error of records whose reference points to `blocking`, which is not in
    the remote: the blocking record's error, the waiting records its affected records."""
    return record_sync_error(
        integration=integration,
        category="associations",
        code="ASSOCIATED_RECORD_NOT_SYNCED",
        message="The associated company is not in Salesforce yet, so Opportunity.AccountId "
        "cannot point to it.",
        direction="push",
        object_type_id=blocking.object_type_id,
        record_id=blocking.pk,
        remote_object="Account",
        remote_field="Opportunity.AccountId",
        affected_record_ids=[r.pk for r in waiting],
    )


def deals_waiting_for_a_broken_company(integration, deals, companies, *, name: str, n: int = 1):
    """A company with a picklist error and `n` deals waiting for it; returns
    (company, its picklist error, the deals, their association error)."""
    company = named(companies, name=name, industry="REAL_ESTATE")
    own = picklist_error(integration, company)
    waiting = [named(deals, dealname=f"{name} renewal {i}" if i else f"{name} renewal")
               for i in range(n)]  # fmt: skip
    return company, own, waiting, waiting_for(integration, company, waiting)
