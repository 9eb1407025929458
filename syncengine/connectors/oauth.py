"""What every remote's OAuth 2.0 consent shares: a CSRF state and a PKCE challenge."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode


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


def authorization_request(
    *, authorize_url: str, client_id: str, redirect_uri: str, scope: str, **extra: str
) -> AuthorizationRequest:
    """The consent page of the web-server flow (authorization code with PKCE S256), with any
    parameters a remote adds (e.g. Google's offline access)."""
    state, verifier, challenge = state_and_pkce()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        **extra,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return AuthorizationRequest(
        url=f"{authorize_url}?{urlencode(query)}", state=state, code_verifier=verifier
    )
