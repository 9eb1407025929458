"""Value conversion, type compatibility, secrets at rest, and the "Used in" provider."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from crm.models import Property
from crm.usage import list_property_usages
from syncengine import crypto
from syncengine.connectors.salesforce import mapping as sf


def test_values_compare_in_one_canonical_form():
    assert sf.normalize_remote(1000.0, "currency") == 1000
    assert sf.normalize_remote("", "string") is None
    assert sf.normalize_remote(None, "boolean") is False
    assert sf.normalize_remote("2024-01-15T10:30:00.000+0000", "datetime") == "2024-01-15T10:30:00Z"
    assert sf.to_remote(1000, property_type="number", remote_type="currency") == 1000
    assert sf.to_remote("2024-01-15T10:30:00Z", property_type="datetime", remote_type="date") == (
        "2024-01-15"
    )
    assert sf.to_remote(None, property_type="text", remote_type="string") is None


def test_picklist_values_map_both_ways():
    mapped = sf.to_remote(
        "BANKING", property_type="enumeration", remote_type="picklist",
        value_map=sf.INDUSTRY_MAP, picklist_values=["Banking"],
    )  # fmt: skip
    assert mapped == "Banking"
    # Without a map, values match by letters and digits, case-insensitively
    assert sf.to_remote(
        "closed_won", property_type="enumeration", remote_type="picklist",
        picklist_values=["Closed Won"],
    ) == "Closed Won"  # fmt: skip
    assert sf.to_local(
        "Banking", property_type="enumeration", remote_type="picklist",
        value_map=sf.INDUSTRY_MAP, options=[("BANKING", "Banking")],
    ) == "BANKING"  # fmt: skip
    with pytest.raises(sf.UnmatchedValue):
        sf.to_local("Agriculture", property_type="enumeration", remote_type="picklist",
                    options=[("BANKING", "Banking")])  # fmt: skip
    assert (
        sf.to_remote(["b", "a"], property_type="multiselect", remote_type="multipicklist") == "a;b"
    )


def test_type_compatibility():
    assert sf.is_compatible("email", "email") and sf.is_compatible("text", "picklist")
    assert not sf.is_compatible("text", "date") and not sf.is_compatible("boolean", "string")


def test_domains_match_loosely():
    assert sf.domain_of("https://www.Acme.io/about") == "acme.io"
    assert sf.domain_of("acme.io") == "acme.io"


def test_secrets_are_encrypted_and_keys_rotate(settings):
    old = Fernet.generate_key().decode()
    settings.CONCORD_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("refresh-me")
    assert token != "refresh-me" and crypto.decrypt(token) == "refresh-me"
    settings.CONCORD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    assert crypto.decrypt(token) == "refresh-me"  # old secrets still readable after rotation
    settings.CONCORD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ValueError):
        crypto.decrypt(token)


@pytest.mark.django_db
def test_field_mappings_show_in_used_in(integration, contacts):
    email = Property.objects.get(object_type=contacts, name="email")
    usages = [u for u in list_property_usages(email) if u.kind == "field_mapping"]
    assert len(usages) == 2  # Contact.Email and Lead.Email
    assert any("Contact.Email" in u.label for u in usages)
    assert usages[0].url.startswith("/admin/syncengine/objectmapping/")
