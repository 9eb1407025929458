"""The connectors by integration kind (Integration.Kind values).

Adding a remote system is one package under `connectors/` and one line here. Connectors are
imported when first asked for: a Salesforce-only deployment never loads Google's client.
"""

from __future__ import annotations

from importlib import import_module

from syncengine.connectors.interface import Codec, Connector

CONNECTORS: dict[str, str] = {
    "salesforce": "syncengine.connectors.salesforce.client.SalesforceConnector",
    "google_contacts": "syncengine.connectors.google_contacts.client.GoogleContactsConnector",
}


def connector_class(kind: str) -> type[Connector]:
    """The connector class serving an integration kind (its capabilities are attributes)."""
    try:
        path = CONNECTORS[kind]
    except KeyError:
        raise LookupError(f"no connector for integration kind {kind!r}") from None
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def codec_of(kind: str) -> Codec:
    """The mapping knowledge (value forms, match keys, error categories) of a kind."""
    return connector_class(kind).codec
