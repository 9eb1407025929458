"""The sync-error codes Concord itself raises (stored in SyncError.code, shown on the cards).

Remote systems' own codes (Salesforce's statusCode, Google's error reasons) are stored as the
remote answered them; these are the engine's, named once here. No Django: connectors use them
in their classification tables.
"""

from __future__ import annotations

from enum import StrEnum


class SyncErrorCode(StrEnum):
    """A code the engine records for a problem it found itself (values are stored: keep them)."""

    # Schema checks (a mapping the remote's describe does not allow)
    FIELD_NOT_ACCESSIBLE = "FIELD_NOT_ACCESSIBLE"
    FIELD_NOT_UPDATEABLE = "FIELD_NOT_UPDATEABLE"
    INCOMPATIBLE_FIELD_TYPE = "INCOMPATIBLE_FIELD_TYPE"
    EXTERNAL_ID_MISSING = "EXTERNAL_ID_MISSING"
    PROPERTY_MISSING = "PROPERTY_MISSING"
    # Pulled values Concord refuses
    PICKLIST_VALUE_UNMATCHED = "PICKLIST_VALUE_UNMATCHED"
    DUPLICATE_VALUE = "DUPLICATE_VALUE"
    INVALID_PROPERTY_VALUE = "INVALID_PROPERTY_VALUE"
    # Associations (reference fields and junctions)
    ASSOCIATED_RECORD_NOT_SYNCED = "ASSOCIATED_RECORD_NOT_SYNCED"
    ASSOCIATION_LIMIT_REACHED = "ASSOCIATION_LIMIT_REACHED"
    ASSOCIATION_REFUSED = "ASSOCIATION_REFUSED"
    # Owners (the owner property ↔ the remote's users)
    OWNER_HAS_NO_ACTIVE_USER = "OWNER_HAS_NO_ACTIVE_USER"
    OWNER_USER_UNKNOWN = "OWNER_USER_UNKNOWN"
