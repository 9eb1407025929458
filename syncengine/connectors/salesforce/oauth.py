"""Salesforce's OAuth 2.0 web-server flow: the consent page and the identity of a grant.

The token endpoint's calls (exchange, refresh, revoke) are `client.OAuthClient`'s.
"""

from __future__ import annotations

from urllib.parse import urlencode

from syncengine.connectors.oauth import AuthorizationRequest, state_and_pkce

SCOPE = "api refresh_token"


def authorization_request(
    *, login_url: str, client_id: str, redirect_uri: str
) -> AuthorizationRequest:
    """The consent-page URL of the web-server flow, with a CSRF state and a PKCE challenge."""
    state, verifier, challenge = state_and_pkce()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return AuthorizationRequest(
        url=f"{login_url.rstrip('/')}/services/oauth2/authorize?{query}",
        state=state,
        code_verifier=verifier,
    )


def identity(identity_url: str) -> tuple[str, str]:
    """The org id and user id at the end of a token's identity URL (blank if absent)."""
    parts = [p for p in identity_url.split("/") if p]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
