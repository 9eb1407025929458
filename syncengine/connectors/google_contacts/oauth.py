"""Google's OAuth 2.0 endpoints: the consent page, token exchange and refresh, revoke, and the
account a token belongs to. HTTP through requests only; nothing of Django."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from syncengine.connectors import oauth
from syncengine.connectors.base import AuthError, TransientError
from syncengine.connectors.oauth import AuthorizationRequest

SCOPE = "https://www.googleapis.com/auth/contacts"  # contacts only (SPEC G-1)
GOOGLE_OAUTH_URL = "https://accounts.google.com"
GOOGLE_TOKEN_HOST = "https://oauth2.googleapis.com"
TIMEOUT = 30


def plain_session() -> requests.Session:
    """A session that ignores environment proxies (a local sandbox must not go through one)."""
    session = requests.Session()
    session.trust_env = False
    return session


def authorization_request(
    *, oauth_url: str, client_id: str, redirect_uri: str
) -> AuthorizationRequest:
    """Google's consent page for the contacts scope, offline (a refresh token), with PKCE."""
    return oauth.authorization_request(
        authorize_url=f"{oauth_url.rstrip('/')}/o/oauth2/v2/auth",
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=SCOPE,
        access_type="offline",
        prompt="consent",
    )


def token_url(oauth_url: str) -> str:
    """Google's token endpoint, or the sandbox's (which serves it next to its consent page)."""
    base = oauth_url.rstrip("/")
    return f"{GOOGLE_TOKEN_HOST}/token" if base == GOOGLE_OAUTH_URL else f"{base}/token"


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """Where and as whom to ask Google (or its sandbox) for tokens."""

    oauth_url: str
    client_id: str
    client_secret: str

    @property
    def token_url(self) -> str:
        return token_url(self.oauth_url)

    def _token(self, data: dict[str, str]) -> dict:
        data = {**data, "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            response = plain_session().post(self.token_url, data=data, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise TransientError(f"Google's token endpoint is unreachable: {exc}") from exc
        body = response.json() if response.content else {}
        if response.status_code != 200:
            raise AuthError(f"{body.get('error', 'error')}: {body.get('error_description', '')}")
        return body

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> dict:
        """Trade the consent's code for tokens; refused unless the contacts scope was granted."""
        body = self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )
        if SCOPE not in str(body.get("scope", "")).split():
            raise AuthError("access to contacts was not granted")
        return body

    def refresh(self, *, refresh_token: str) -> dict:
        """A new access token (Google keeps the refresh token unless it answers a new one)."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def revoke(self, *, token: str) -> bool:
        """Revoke a token (a refresh token takes its access tokens with it)."""
        base = self.oauth_url.rstrip("/")
        url = f"{GOOGLE_TOKEN_HOST}/revoke" if base == GOOGLE_OAUTH_URL else f"{base}/revoke"
        try:
            return plain_session().post(url, params={"token": token}, timeout=TIMEOUT).ok
        except requests.RequestException:
            return False

    def account(self, *, access_token: str) -> str:
        """The Google account's email, from tokeninfo (blank if it cannot be read)."""
        base = GOOGLE_TOKEN_HOST if "accounts.google.com" in self.oauth_url else self.oauth_url
        try:
            response = plain_session().get(
                f"{base.rstrip('/')}/tokeninfo",
                params={"access_token": access_token},
                timeout=TIMEOUT,
            )
            return str(response.json().get("email") or response.json().get("sub") or "")
        except (requests.RequestException, ValueError):
            return ""
