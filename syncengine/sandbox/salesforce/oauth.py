"""OAuth 2.0 as Salesforce does it: authorize (web server flow), token, revoke.

Token responses carry no ``expires_in``; the access token's lifetime comes from the org file
(``oauth.access_token_ttl_seconds``) and an expired token answers 401 INVALID_SESSION_ID.
Refresh tokens are reusable and a refresh answer carries no new refresh token (the default).
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
from urllib.parse import urlencode

from ..http import OAuthError
from .errors import invalid_session
from .org import OAuthClient, OrgDef, UserDef
from .store import Store


@dataclass
class Session:
    user_id: str
    client_id: str


class OAuthService:
    def __init__(self, store: Store, org: OrgDef) -> None:
        self.store = store
        self.org = org

    # --- lookups -------------------------------------------------------------------------------

    def client(self, client_id: str | None) -> OAuthClient:
        for client in self.org.clients:
            if client.client_id == client_id:
                return client
        raise OAuthError("invalid_client_id", "client identifier invalid")

    def _authenticated_client(self, form: dict[str, str]) -> OAuthClient:
        client = self.client(form.get("client_id"))
        secret = form.get("client_secret")
        if secret is not None and not hmac.compare_digest(secret, client.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        return client

    def user(self, username: str | None, password: str | None) -> UserDef | None:
        for user in self.org.users:
            if user.password is None:
                continue  # a user without a login: owns records, never signs in
            if user.username == username and hmac.compare_digest(user.password, password or ""):
                return user
        return None

    def redirect_allowed(self, client: OAuthClient, redirect_uri: str) -> bool:
        return not client.redirect_uris or redirect_uri in client.redirect_uris

    # --- tokens --------------------------------------------------------------------------------

    def _org_id_18(self) -> str:
        from .ids import to_18

        return to_18(self.org.org_id[:15])

    def _issue(
        self,
        client: OAuthClient,
        user_id: str,
        base_url: str,
        scope: str,
        with_refresh: bool,
        refresh_token: str | None = None,
    ) -> dict[str, Any]:
        access_token = f"{self.org.org_id[:15]}!{secrets.token_urlsafe(48)}"
        now = time.time()
        issued_at = str(int(now * 1000))
        identity = f"{base_url}/id/{self._org_id_18()}/{user_id}"
        signature = base64.b64encode(
            hmac.new(
                client.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
            ).digest()
        ).decode()
        body: dict[str, Any] = {"access_token": access_token}
        if with_refresh:
            refresh_token = secrets.token_urlsafe(64)
            body["refresh_token"] = refresh_token
            self.store.save_token(
                refresh_token,
                "refresh",
                {"user_id": user_id, "client_id": client.client_id, "scope": scope},
                None,
            )
        body.update(
            signature=signature,
            scope=scope,
            instance_url=base_url,
            id=identity,
            token_type="Bearer",
            issued_at=issued_at,
        )
        self.store.save_token(
            access_token,
            "access",
            {"user_id": user_id, "client_id": client.client_id, "refresh_token": refresh_token},
            now + self.org.access_token_ttl_seconds,
        )
        return body

    def token(self, form: dict[str, str], base_url: str) -> dict[str, Any]:
        grant = form.get("grant_type")
        if grant == "password":
            client = self._authenticated_client(form)
            # Salesforce appends the security token to the password; the sandbox has none.
            user = self.user(form.get("username"), form.get("password"))
            if user is None:
                raise OAuthError("invalid_grant", "authentication failure")
            return self._issue(client, user.user_id, base_url, "api", with_refresh=False)
        if grant == "authorization_code":
            client = self._authenticated_client(form)
            code = form.get("code", "")
            stored = self.store.load_token(code, "code")
            if stored is None:
                raise OAuthError("invalid_grant", "invalid authorization code")
            data, expires_at, used = stored
            if used or (expires_at and expires_at < time.time()):
                raise OAuthError("invalid_grant", "expired authorization code")
            if data["client_id"] != client.client_id or data["redirect_uri"] != form.get(
                "redirect_uri"
            ):
                raise OAuthError("invalid_grant", "redirect_uri must match configuration")
            challenge = data.get("code_challenge")
            if challenge:
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                if digest.decode().rstrip("=") != challenge.rstrip("="):
                    raise OAuthError("invalid_grant", "invalid code verifier")
            if not self.store.consume_code(code):
                raise OAuthError("invalid_grant", "expired authorization code")
            return self._issue(client, data["user_id"], base_url, data["scope"], with_refresh=True)
        if grant == "refresh_token":
            client = self._authenticated_client(form)
            refresh_token = form.get("refresh_token", "")
            stored = self.store.load_token(refresh_token, "refresh")
            if stored is None or stored[2] or stored[0]["client_id"] != client.client_id:
                raise OAuthError("invalid_grant", "expired access/refresh token")
            data = stored[0]
            return self._issue(
                client,
                data["user_id"],
                base_url,
                data["scope"],
                with_refresh=False,
                refresh_token=refresh_token,
            )
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def issue_code(
        self,
        client: OAuthClient,
        user: UserDef,
        redirect_uri: str,
        scope: str,
        code_challenge: str | None,
    ) -> str:
        code = secrets.token_urlsafe(32)
        self.store.save_token(
            code,
            "code",
            {
                "client_id": client.client_id,
                "user_id": user.user_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "code_challenge": code_challenge,
            },
            time.time() + self.org.auth_code_ttl_seconds,
        )
        return code

    def session_for(self, authorization: str | None) -> Session:
        """The session behind an ``Authorization: Bearer`` header, or 401 INVALID_SESSION_ID."""
        if not authorization:
            raise invalid_session()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            raise invalid_session()
        stored = self.store.load_token(token.strip(), "access")
        if stored is None:
            raise invalid_session()
        data, expires_at, revoked = stored
        if revoked or (expires_at is not None and expires_at < time.time()):
            raise invalid_session()
        return Session(user_id=data["user_id"], client_id=data["client_id"])

    def revoke(self, token: str) -> bool:
        return self.store.revoke_token(token)


def redirect_with(redirect_uri: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in redirect_uri else "?"
    return redirect_uri + separator + urlencode({k: v for k, v in params.items() if v is not None})


def consent_page(params: dict[str, str], error: str | None = None) -> str:
    """The login-and-allow page of the web server flow; the form posts back to /authorize."""
    hidden = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k not in ("username", "password", "action")
    )
    notice = f'<p class="error">{html.escape(error)}</p>' if error else ""
    client_id = html.escape(params.get("client_id", ""))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Salesforce Sandbox — Allow Access?</title></head>
<body>
<h1>Allow Access?</h1>
<p>The app <strong>{client_id}</strong> is asking to access your Salesforce sandbox data
(scope: {html.escape(params.get("scope", "api refresh_token"))}).</p>
{notice}
<form method="post" action="/services/oauth2/authorize">
{hidden}
<label>Username <input name="username" value="integration@example.com"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit" name="action" value="allow">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>
</body></html>
"""
