"""Salesforce's OAuth 2.0 web-server flow: the consent page, the token endpoint's calls
(exchange, refresh, revoke) and the identity of a grant. HTTP through requests; no Django."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from syncengine.connectors import oauth
from syncengine.connectors.base import AuthError, TransientError
from syncengine.connectors.oauth import AuthorizationRequest

SCOPE = "api refresh_token"
TIMEOUT = 60
TRANSIENT_STATUS = {500, 502, 503, 504}


def authorization_request(
    *, login_url: str, client_id: str, redirect_uri: str
) -> AuthorizationRequest:
    """The consent-page URL of the web-server flow, with a CSRF state and a PKCE challenge."""
    return oauth.authorization_request(
        authorize_url=f"{login_url.rstrip('/')}/services/oauth2/authorize",
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=SCOPE,
    )


def identity(identity_url: str) -> tuple[str, str]:
    """The org id and user id at the end of a token's identity URL (blank if absent)."""
    parts = [p for p in identity_url.split("/") if p]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """Where and as whom to ask for tokens."""

    login_url: str
    client_id: str
    client_secret: str
    ca_file: str = ""

    def session(self) -> requests.Session:
        return plain_session(self.ca_file)

    def _token(self, data: dict[str, str]) -> dict:
        data = {"client_id": self.client_id, "client_secret": self.client_secret, **data}
        try:
            response = self.session().post(
                f"{self.login_url.rstrip('/')}/services/oauth2/token",
                data=data,
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise TransientError(f"token endpoint unreachable: {exc}") from exc
        if response.status_code in TRANSIENT_STATUS:
            raise TransientError(f"token endpoint answered {response.status_code}")
        body = _json(response)
        if response.status_code != 200:
            error = body.get("error", "error") if isinstance(body, dict) else "error"
            description = body.get("error_description", "") if isinstance(body, dict) else ""
            raise AuthError(f"{error}: {description}".strip(": "))
        return body

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> dict:
        """Trade an authorization code for tokens (OAuth web-server flow)."""
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            data["code_verifier"] = code_verifier
        return self._token(data)

    def password_grant(self, *, username: str, password: str) -> dict:
        """Get tokens with a username and password (the sandbox's demo connection)."""
        return self._token({"grant_type": "password", "username": username, "password": password})

    def refresh(self, *, refresh_token: str) -> dict:
        """A new access token; the refresh token stays the same (Salesforce's default)."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def revoke(self, *, token: str) -> bool:
        """Revoke a token (a refresh token revokes its access tokens too)."""
        try:
            response = self.session().post(
                f"{self.login_url.rstrip('/')}/services/oauth2/revoke",
                data={"token": token},
                timeout=TIMEOUT,
            )
        except requests.RequestException:
            return False
        return response.status_code == 200


def plain_session(ca_file: str = "") -> requests.Session:
    session = requests.Session()
    if ca_file:
        session.verify = ca_file
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would override session.verify otherwise.
        session.trust_env = False
    return session


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return {}
