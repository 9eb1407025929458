"""One package per remote system; each one's `mapping` module is what the engine asks of it.

A codec (a connector's mapping module) names: EXTERNAL_ID_FIELD, MATCH_KEYS, normalize_remote,
parse_remote_datetime, soql_datetime, to_local, to_remote, UnmatchedValue, domain_of,
is_compatible, classify, and optionally INCREMENTAL = "cursor" (pulls resume from a token).
"""

from __future__ import annotations

from types import ModuleType


def codec_for(kind: str) -> ModuleType:
    """The mapping module of an integration kind (Integration.Kind values)."""
    if kind == "google_contacts":
        from syncengine.connectors.google_contacts import mapping
    else:
        from syncengine.connectors.salesforce import mapping
    return mapping
