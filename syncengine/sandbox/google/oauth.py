"""OAuth 2.0 as Google does it: consent page, authorization code and refresh token grants.

Paths follow Google's hosts folded onto one server: ``/o/oauth2/v2/auth`` (accounts.google.com),
``/token``, ``/revoke`` and ``/tokeninfo`` (oauth2.googleapis.com). A refresh token is issued
only with ``access_type=offline``, as Google does; a refresh answer carries no new one. Every
People API call checks its bearer token here (401 UNAUTHENTICATED when unknown, revoked or
expired) and its scopes (403 PERMISSION_DENIED).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..http import OAuthError
from .errors import scope_insufficient, unauthenticated
from .store import Store

CONTACTS = "https://www.googleapis.com/auth/contacts"
CONTACTS_READONLY = "https://www.googleapis.com/auth/contacts.readonly"
OTHER_CONTACTS_READONLY = "https://www.googleapis.com/auth/contacts.other.readonly"
KNOWN_SCOPES = {
    CONTACTS: "See, edit, download, and permanently delete your contacts",
    CONTACTS_READONLY: "See and download your contacts",
    OTHER_CONTACTS_READONLY: 'See and download contact info automatically saved in your "Other '
    'contacts"',
    "openid": "Associate you with your personal info on Google",
    "email": "See your primary Google Account email address",
    "profile": "See your personal info",
    "https://www.googleapis.com/auth/userinfo.email": "See your primary Google Account email "
    "address",
    "https://www.googleapis.com/auth/userinfo.profile": "See your personal info",
}
SCOPE_ALIASES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}
DEFAULT_CLIENT = {
    "client_id": "concord-sandbox.apps.googleusercontent.com",
    "client_secret": "sandbox-secret",
    "redirect_uris": [],  # empty: any redirect URI is accepted
}
ACCOUNT = {
    "email": "sandbox.user@gmail.com",
    "sub": "109876543210987654321",
    "name": "Sandbox User",
}
DEFAULT_ACCESS_TOKEN_TTL = 3599
CODE_TTL = 600


@dataclass
class Grant:
    """Who an access token speaks for and what it may do."""

    user: str
    scopes: set[str]
    client_id: str

    def require(self, *any_of: str) -> None:
        if not self.scopes.intersection(any_of):
            raise scope_insufficient()


def normalise_scopes(raw: str) -> list[str]:
    return [SCOPE_ALIASES.get(s, s) for s in raw.replace(",", " ").split() if s]


def redirect_with(uri: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class OAuthService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- settings ------------------------------------------------------------------------------

    def clients(self) -> list[dict[str, Any]]:
        return list(self.store.get_setting("oauth_clients", [DEFAULT_CLIENT]))

    def access_token_ttl(self) -> int:
        return int(self.store.get_setting("access_token_ttl_seconds", DEFAULT_ACCESS_TOKEN_TTL))

    def client(self, client_id: str | None) -> dict[str, Any]:
        for client in self.clients():
            if client["client_id"] == client_id:
                return client
        raise OAuthError("invalid_client", "The OAuth client was not found.", 401)

    def redirect_allowed(self, client: dict[str, Any], redirect_uri: str) -> bool:
        allowed = client.get("redirect_uris") or []
        return not allowed or redirect_uri in allowed

    # --- authorization -------------------------------------------------------------------------

    def issue_code(self, params: dict[str, str]) -> str:
        code = "4/" + secrets.token_urlsafe(32)
        data = {
            "client_id": params["client_id"],
            "redirect_uri": params["redirect_uri"],
            "scope": " ".join(normalise_scopes(params.get("scope", ""))),
            "offline": params.get("access_type") == "offline",
            "code_challenge": params.get("code_challenge"),
            "code_challenge_method": params.get("code_challenge_method") or "plain",
        }
        self.store.save_token(code, "code", data, time.time() + CODE_TTL)
        return code

    # --- token endpoint ------------------------------------------------------------------------

    def token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        client = self.client(client_id)
        if not hmac.compare_digest(str(secret or ""), str(client["client_secret"])):
            raise OAuthError("invalid_client", "Unauthorized", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(client, form)
        if grant_type == "refresh_token":
            return self._refresh(client, form)
        raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type or ''}")

    def _exchange_code(self, client: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
        code = form.get("code", "")
        stored = self.store.load_token(code, "code")
        if stored is None:
            raise OAuthError("invalid_grant", "Malformed auth code.")
        data, expires_at, used = stored
        if used or (expires_at is not None and expires_at < time.time()):
            raise OAuthError("invalid_grant", "Bad Request")
        if data["client_id"] != client["client_id"]:
            raise OAuthError("invalid_grant", "Bad Request")
        if form.get("redirect_uri") != data["redirect_uri"]:
            raise OAuthError("redirect_uri_mismatch", "Bad Request")
        if data.get("code_challenge") and not _pkce_ok(
            data["code_challenge"], data["code_challenge_method"], form.get("code_verifier")
        ):
            raise OAuthError("invalid_grant", "Invalid code verifier.")
        if not self.store.consume_code(code):
            raise OAuthError("invalid_grant", "Bad Request")
        refresh_token = None
        if data["offline"]:
            refresh_token = "1//" + secrets.token_urlsafe(40)
            self.store.save_token(
                refresh_token,
                "refresh",
                {
                    "client_id": client["client_id"],
                    "scope": data["scope"],
                    "user": ACCOUNT["email"],
                },
                None,
            )
        return self.issue_access_token(client["client_id"], data["scope"], refresh_token)

    def _refresh(self, client: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
        refresh_token = form.get("refresh_token", "")
        stored = self.store.load_token(refresh_token, "refresh")
        if stored is None or stored[2] or stored[0]["client_id"] != client["client_id"]:
            raise OAuthError("invalid_grant", "Token has been expired or revoked.")
        granted = stored[0]["scope"].split()
        scope = " ".join(granted)
        if requested := normalise_scopes(form.get("scope", "")):
            if not set(requested) <= set(granted):
                raise OAuthError("invalid_scope", "Bad Request")
            scope = " ".join(requested)
        answer = self.issue_access_token(client["client_id"], scope, None, refresh_token)
        return answer

    def issue_access_token(
        self,
        client_id: str,
        scope: str,
        refresh_token: str | None,
        issued_by: str | None = None,
        ttl: int | None = None,
    ) -> dict[str, Any]:
        lifetime = self.access_token_ttl() if ttl is None else ttl
        token = "ya29." + secrets.token_urlsafe(48)
        self.store.save_token(
            token,
            "access",
            {
                "client_id": client_id,
                "scope": scope,
                "user": ACCOUNT["email"],
                "refresh_token": refresh_token or issued_by,
            },
            time.time() + lifetime,
        )
        answer: dict[str, Any] = {
            "access_token": token,
            "expires_in": lifetime,
            "scope": scope,
            "token_type": "Bearer",
        }
        if refresh_token:
            answer["refresh_token"] = refresh_token
        return answer

    def mint(self, scope: str, ttl: int | None, offline: bool) -> dict[str, Any]:
        """Control API: a token pair without the consent round trip (tests, demos)."""
        client_id = self.clients()[0]["client_id"]
        scope = " ".join(normalise_scopes(scope)) or CONTACTS
        refresh_token = None
        if offline:
            refresh_token = "1//" + secrets.token_urlsafe(40)
            self.store.save_token(
                refresh_token,
                "refresh",
                {"client_id": client_id, "scope": scope, "user": ACCOUNT["email"]},
                None,
            )
        return self.issue_access_token(client_id, scope, refresh_token, ttl=ttl)

    def revoke(self, token: str) -> bool:
        return self.store.revoke_token(token)

    # --- resource server -----------------------------------------------------------------------

    def grant_for(self, authorization: str | None) -> Grant:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise unauthenticated("CREDENTIALS_MISSING")
        token = authorization[7:].strip()
        stored = self.store.load_token(token, "access")
        if stored is None or stored[2]:
            raise unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED")
        data, expires_at, _ = stored
        if expires_at is not None and expires_at < time.time():
            raise unauthenticated("ACCESS_TOKEN_EXPIRED")
        return Grant(data["user"], set(data["scope"].split()), data["client_id"])

    def token_info(self, token: str) -> dict[str, Any] | None:
        stored = self.store.load_token(token, "access")
        if stored is None or stored[2] or (stored[1] or 0) < time.time():
            return None
        data, expires_at, _ = stored
        return {
            "azp": data["client_id"],
            "aud": data["client_id"],
            "sub": ACCOUNT["sub"],
            "scope": data["scope"],
            "exp": str(int(expires_at or 0)),
            "expires_in": str(max(0, int((expires_at or 0) - time.time()))),
            "email": data["user"],
            "email_verified": "true",
            "access_type": "offline" if data.get("refresh_token") else "online",
        }


def _pkce_ok(challenge: str, method: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        return hmac.compare_digest(computed, challenge)
    return hmac.compare_digest(verifier, challenge)


def consent_page(params: dict[str, str]) -> str:
    """Google's "Sign in - Google Accounts" consent screen, reduced to Allow and Cancel."""
    scopes = normalise_scopes(params.get("scope", ""))
    items = "".join(
        f"<li><code>{html.escape(s)}</code> — {html.escape(KNOWN_SCOPES.get(s, s))}</li>"
        for s in scopes
    )
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k != "action"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Sign in - Google Accounts (sandbox)</title></head>
<body>
<h1>Concord sandbox wants to access your Google Account</h1>
<p>Signed in as <strong>{html.escape(ACCOUNT["email"])}</strong></p>
<p>This will allow <strong>{html.escape(params.get("client_id", ""))}</strong> to:</p>
<ul>{items}</ul>
<form method="post" action="">
{hidden}
<button type="submit" name="action" value="allow" id="submit_approve_access">Allow</button>
<button type="submit" name="action" value="deny" id="submit_deny_access">Cancel</button>
</form>
</body></html>
"""
