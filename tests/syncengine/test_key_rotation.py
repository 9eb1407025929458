"""`rotate_encryption_keys`: every stored secret moves to the newest key, so the old one can go."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from crm.models import AuditEvent
from syncengine import crypto
from syncengine.models import Integration
from syncengine.services.encryption import encrypted_fields
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def connected(name: str, **tokens: str) -> Integration:
    return IntegrationFactory(
        name=name,
        client_secret_encrypted=crypto.encrypt(tokens.get("secret", f"{name}-secret")),
        access_token_encrypted=crypto.encrypt(tokens.get("access", f"{name}-access")),
        refresh_token_encrypted=crypto.encrypt(tokens.get("refresh", "")),
    )


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


def test_every_encrypted_field_is_found():
    found = {model: names for model, names in encrypted_fields()}
    assert found[Integration] == [
        "client_secret_encrypted",
        "access_token_encrypted",
        "refresh_token_encrypted",
    ]


def test_rotation_re_encrypts_under_the_new_key_so_the_old_one_can_be_removed(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CONCORD_ENCRYPTION_KEYS = [old]
    org = connected("org", refresh="org-refresh")
    google = connected("google")  # no refresh token: an empty value stays empty

    settings.CONCORD_ENCRYPTION_KEYS = [new, old]
    out = rotate()
    assert "Re-encrypted 5 value(s)" in out and "0 already under it; 1 empty" in out

    settings.CONCORD_ENCRYPTION_KEYS = [new]  # the old key is gone
    org.refresh_from_db()
    google.refresh_from_db()
    assert crypto.decrypt(org.client_secret_encrypted) == "org-secret"
    assert crypto.decrypt(org.access_token_encrypted) == "org-access"
    assert crypto.decrypt(org.refresh_token_encrypted) == "org-refresh"
    assert crypto.decrypt(google.access_token_encrypted) == "google-access"
    assert google.refresh_token_encrypted == ""
    event = AuditEvent.objects.get(verb="rotate_encryption_keys")
    assert event.detail["rotated"] == 5 and event.detail["unreadable"] == []


def test_a_second_run_changes_nothing(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CONCORD_ENCRYPTION_KEYS = [old]
    org = connected("org", refresh="org-refresh")
    settings.CONCORD_ENCRYPTION_KEYS = [new, old]
    rotate()
    org.refresh_from_db()
    stored = (org.client_secret_encrypted, org.access_token_encrypted, org.refresh_token_encrypted)

    out = rotate()

    assert "Re-encrypted 0 value(s)" in out and "3 already under it" in out
    org.refresh_from_db()
    assert stored == (
        org.client_secret_encrypted,
        org.access_token_encrypted,
        org.refresh_token_encrypted,
    )


def test_unreadable_values_are_kept_reported_and_fail_the_command(settings):
    lost = Fernet.generate_key().decode()
    settings.CONCORD_ENCRYPTION_KEYS = [lost]
    org = connected("org")
    stored = org.access_token_encrypted
    settings.CONCORD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(CommandError, match=rf"syncengine.integration:{org.pk}.access_token"):
        rotate()

    org.refresh_from_db()
    assert org.access_token_encrypted == stored
    assert AuditEvent.objects.get(verb="rotate_encryption_keys").detail["unreadable"] == [
        f"syncengine.integration:{org.pk}.client_secret_encrypted",
        f"syncengine.integration:{org.pk}.access_token_encrypted",
    ]


def test_values_under_the_legacy_secret_key_derivation_move_to_a_configured_key(settings):
    # What earlier versions stored when CONCORD_ENCRYPTION_KEYS was unset.
    settings.CONCORD_ENCRYPTION_KEYS = [crypto.legacy_key_from_secret_key()]
    org = connected("org", refresh="org-refresh")
    settings.CONCORD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError):
        rotate()  # without the option the legacy key is not used

    out = rotate("--legacy-secret-key")

    assert "Re-encrypted 3 value(s)" in out
    org.refresh_from_db()
    assert crypto.decrypt(org.refresh_token_encrypted) == "org-refresh"


def test_without_configured_keys_the_command_says_so_and_changes_nothing(settings):
    org = connected("org")
    stored = org.access_token_encrypted
    settings.CONCORD_ENCRYPTION_KEYS = []

    with pytest.raises(CommandError, match="CONCORD_ENCRYPTION_KEYS is not set"):
        rotate()

    org.refresh_from_db()
    assert org.access_token_encrypted == stored
    assert not AuditEvent.objects.filter(verb="rotate_encryption_keys").exists()
