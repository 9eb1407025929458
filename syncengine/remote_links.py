"""Links from Concord into a remote system's own UI: one record's page there.

The health page, the sync error admin and the record sync card all link a remote record the
same way, so the URL shapes live here once.
"""

from __future__ import annotations

from urllib.parse import quote

from syncengine.models import Integration

GOOGLE_CONTACTS_UI = "https://contacts.google.com/person/"
GOOGLE_PERSON_PREFIX = "people/"  # the People API's resource names: "people/c123…"


def remote_record_url(*, integration: Integration, remote_object: str, remote_id: str) -> str:
    """The remote record's page in its system's UI ("" when there is none to link).

    Salesforce: the Lightning record page of the org's instance,
    https://<instance>/lightning/r/<SObject>/<Id>/view. Google Contacts: the contact's page,
    https://contacts.google.com/person/<id> (the resource name without "people/").
    """
    if not remote_id:
        return ""
    if integration.kind == Integration.Kind.GOOGLE_CONTACTS:
        person = remote_id.removeprefix(GOOGLE_PERSON_PREFIX)
        return f"{GOOGLE_CONTACTS_UI}{quote(person, safe='')}"
    if not integration.instance_url:
        return ""
    base = integration.instance_url.rstrip("/")
    if not remote_object:
        return f"{base}/{quote(remote_id, safe='')}"  # Salesforce redirects an id to its page
    return f"{base}/lightning/r/{quote(remote_object, safe='')}/{quote(remote_id, safe='')}/view"


def remote_system_name(integration: Integration) -> str:
    """How people call the remote system: "Salesforce" or "Google Contacts"."""
    return integration.get_kind_display()
