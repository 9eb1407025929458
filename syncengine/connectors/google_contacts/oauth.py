"""Google's OAuth token refresh (the connector's own OAuth call; the token store keeps the
result)."""

from __future__ import annotations

import google.auth.exceptions
import google.oauth2.credentials
import google_auth_httplib2
import httplib2

from syncengine.connectors.base import AuthError

SCOPE = "https://www.googleapis.com/auth/contacts"  # contacts only (SPEC G-1)
TIMEOUT = 30


def refresh_access_token(
    *, token_uri: str, client_id: str, client_secret: str, refresh_token: str
) -> str:
    """A new access token for a refresh token; AuthError when Google refuses it."""
    credentials = google.oauth2.credentials.Credentials(
        token=None,
        refresh_token=refresh_token or None,
        token_uri=token_uri,
        client_id=client_id,
        client_secret=client_secret,
        scopes=[SCOPE],
    )
    # proxy_info=None: a local endpoint must not go through an environment proxy.
    http = httplib2.Http(proxy_info=None, timeout=TIMEOUT)
    try:
        credentials.refresh(google_auth_httplib2.Request(http))
    except google.auth.exceptions.RefreshError as exc:
        raise AuthError(f"Google refused to refresh the access token: {exc}") from exc
    return credentials.token
