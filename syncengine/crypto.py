"""Secrets at rest (OAuth tokens, client secrets): Fernet with rotating keys from settings."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    keys = list(getattr(settings, "CONCORD_ENCRYPTION_KEYS", []) or [])
    if not keys:
        # The demo has no keys configured: derive a stable one from SECRET_KEY.
        digest = hashlib.sha256(f"concord-secrets:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    # MultiFernet encrypts with the first key and decrypts with any, so keys can rotate.
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt(value: str) -> str:
    """Encrypt a secret for storage; the empty string stays empty."""
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    """Decrypt a stored secret; raises ValueError when no configured key can read it."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the secret cannot be decrypted with the configured keys") from exc
