"""OAuth: consent page, authorization code and refresh token grants, bearer checks, scopes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import google.oauth2.credentials
import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from tests.support.google_sandbox import (
    CLIENT_ID,
    CLIENT_SECRET,
    CONTACTS,
    GoogleSandbox,
    error_of,
    person,
)

REDIRECT = "http://localhost:8000/integrations/google/callback"


def authorize(sandbox: GoogleSandbox, action: str = "allow", **extra: str) -> dict[str, list]:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": CONTACTS,
        "state": "xyz",
        "access_type": "offline",
        **extra,
    }
    session = sandbox.session()
    page = session.get(f"{sandbox.url}o/oauth2/v2/auth", params=params, timeout=10)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert CONTACTS in page.text and "Allow" in page.text
    answer = session.post(
        f"{sandbox.url}o/oauth2/v2/auth",
        data={**params, "action": action},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return parse_qs(location.query)


def exchange(sandbox: GoogleSandbox, code: str) -> Any:
    return sandbox.session().post(
        f"{sandbox.url}token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
        },
        timeout=10,
    )


def test_consent_code_exchange_and_api_call(sandbox: GoogleSandbox) -> None:
    query = authorize(sandbox)
    assert query["state"] == ["xyz"]
    tokens = exchange(sandbox, query["code"][0])
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["scope"] == CONTACTS
    assert body["expires_in"] == 3599 and body["refresh_token"].startswith("1//")
    people = sandbox.service_for_token(body["access_token"])
    assert people.people().createContact(body=person("OAuth")).execute()["resourceName"]
    # Codes are single use.
    again = exchange(sandbox, query["code"][0])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_denied_consent_redirects_with_access_denied(sandbox: GoogleSandbox) -> None:
    query = authorize(sandbox, action="deny")
    assert query == {"error": ["access_denied"], "state": ["xyz"]}


def test_online_access_gets_no_refresh_token(sandbox: GoogleSandbox) -> None:
    query = authorize(sandbox, access_type="online")
    body = exchange(sandbox, query["code"][0]).json()
    assert "refresh_token" not in body and body["access_token"].startswith("ya29.")


def test_token_lifetime_is_configurable(sandbox: GoogleSandbox) -> None:
    sandbox.ok("PATCH", "oauth", json={"access_token_ttl_seconds": 120})
    body = exchange(sandbox, authorize(sandbox)["code"][0]).json()
    assert body["expires_in"] == 120
    info = sandbox.session().get(
        f"{sandbox.url}tokeninfo", params={"access_token": body["access_token"]}, timeout=10
    )
    assert info.json()["scope"] == CONTACTS and int(info.json()["expires_in"]) <= 120


def call_groups(sandbox: GoogleSandbox, access_token: str | None) -> Any:
    # Plain requests: google-auth would answer a 401 by trying to refresh a token-only
    # credential (RefreshError), hiding the wire answer this test is about.
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return sandbox.session().get(f"{sandbox.url}v1/contactGroups", headers=headers, timeout=10)


def test_bad_or_missing_token_is_401_unauthenticated(sandbox: GoogleSandbox) -> None:
    for token, reason in (
        ("ya29.bogus", "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
        (None, "CREDENTIALS_MISSING"),
    ):
        denied = call_groups(sandbox, token)
        assert denied.status_code == 401
        error = denied.json()["error"]
        assert error["status"] == "UNAUTHENTICATED" and error["code"] == 401
        assert "invalid authentication credentials" in error["message"]
        assert error["details"][0]["reason"] == reason
        assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    with pytest.raises(RefreshError):
        # What a connector holding only an access token sees through the client library.
        sandbox.service_for_token("ya29.bogus").contactGroups().list().execute()


def test_expired_token_is_refreshed_by_google_auth(sandbox: GoogleSandbox) -> None:
    body = exchange(sandbox, authorize(sandbox)["code"][0]).json()
    sandbox.ok("POST", "tokens/expire", json={"access_token": body["access_token"]})
    denied = call_groups(sandbox, body["access_token"])
    assert denied.status_code == 401
    assert denied.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"

    credentials = google.oauth2.credentials.Credentials(
        token=body["access_token"],
        refresh_token=body["refresh_token"],
        token_uri=f"{sandbox.url}token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    people = sandbox.service(credentials)
    # google-auth sees the 401, refreshes against the sandbox's token endpoint and retries.
    assert people.contactGroups().list().execute()["totalItems"] >= 2
    assert credentials.token != body["access_token"]


def test_refresh_grant_and_revocation(sandbox: GoogleSandbox) -> None:
    body = exchange(sandbox, authorize(sandbox)["code"][0]).json()
    form = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    refreshed = sandbox.session().post(f"{sandbox.url}token", data=form, timeout=10)
    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()
    revoked = sandbox.session().post(
        f"{sandbox.url}revoke", data={"token": body["refresh_token"]}, timeout=10
    )
    assert revoked.status_code == 200
    again = sandbox.session().post(f"{sandbox.url}token", data=form, timeout=10)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    wrong_secret = sandbox.session().post(
        f"{sandbox.url}token", data={**form, "client_secret": "nope"}, timeout=10
    )
    assert wrong_secret.status_code == 401


def test_scopes_are_enforced(sandbox: GoogleSandbox) -> None:
    readonly = sandbox.mint_token("https://www.googleapis.com/auth/contacts.readonly")
    people = sandbox.service_for_token(readonly["access_token"])
    people.people().connections().list(resourceName="people/me", personFields="names").execute()
    with pytest.raises(HttpError) as write:
        people.people().createContact(body=person("Nope")).execute()
    assert write.value.status_code == 403
    assert error_of(write.value)["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    contacts_only = sandbox.service_for_token(sandbox.mint_token(CONTACTS)["access_token"])
    with pytest.raises(HttpError) as other:
        contacts_only.otherContacts().list(readMask="names").execute()
    assert other.value.status_code == 403
