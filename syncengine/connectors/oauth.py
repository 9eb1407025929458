"""What every remote's OAuth 2.0 consent shares: a CSRF state and a PKCE challenge."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep in the session until the callback."""

    url: str
    state: str
    code_verifier: str


def state_and_pkce() -> tuple[str, str, str]:
    """A CSRF state, a PKCE code verifier and its S256 challenge (for any OAuth consent)."""
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return state, verifier, digest.decode().rstrip("=")
