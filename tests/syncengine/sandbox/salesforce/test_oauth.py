"""OAuth 2.0: web server flow, refresh, password grant, revoke (reference §7)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import requests
from simple_salesforce import Salesforce

from tests.support.salesforce_sandbox import (
    API_VERSION,
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    USERNAME,
    SalesforceSandbox,
)

REDIRECT = "https://concord.local/oauth/callback"


def authorize(
    sandbox: SalesforceSandbox, action: str = "allow", password: str = PASSWORD
) -> requests.Response:
    session = sandbox.session()
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "api refresh_token",
        "state": "csrf-123",
    }
    page = session.get(f"{sandbox.url}/services/oauth2/authorize", params=params)
    assert page.status_code == 200 and "Allow Access?" in page.text
    return session.post(
        f"{sandbox.url}/services/oauth2/authorize",
        data={**params, "username": USERNAME, "password": password, "action": action},
        allow_redirects=False,
    )


def token(sandbox: SalesforceSandbox, **form: str) -> requests.Response:
    return sandbox.session().post(
        f"{sandbox.url}/services/oauth2/token",
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form},
    )


def test_web_server_flow_refresh_and_revoke(sandbox: SalesforceSandbox) -> None:
    redirect = authorize(sandbox)
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["csrf-123"]
    code = query["code"][0]
    granted = token(sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert granted.status_code == 200
    body = granted.json()
    assert set(body) == {
        "access_token",
        "refresh_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }
    assert body["token_type"] == "Bearer" and body["instance_url"] == sandbox.url
    assert body["access_token"].startswith("00DRS0000000001!")
    expected = base64.b64encode(
        hmac.new(
            CLIENT_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256
        ).digest()
    ).decode()
    assert body["signature"] == expected
    assert body["id"].endswith("/005RS000000001AYAQ")
    reused = token(sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    sf = Salesforce(
        instance_url=body["instance_url"],
        session_id=body["access_token"],
        version=API_VERSION,
        session=sandbox.session(),
    )
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000

    refreshed = token(sandbox, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed.status_code == 200
    assert "refresh_token" not in refreshed.json()  # refresh tokens are reused, not rotated
    assert refreshed.json()["access_token"] != body["access_token"]

    revoke = sandbox.session().post(
        f"{sandbox.url}/services/oauth2/revoke", data={"token": body["refresh_token"]}
    )
    assert revoke.status_code == 200
    after = token(sandbox, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert after.status_code == 400
    assert after.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }


def test_denied_consent_redirects_with_access_denied(sandbox: SalesforceSandbox) -> None:
    redirect = authorize(sandbox, action="deny")
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["csrf-123"]


def test_password_grant_and_its_errors(sandbox: SalesforceSandbox) -> None:
    ok = token(sandbox, grant_type="password", username=USERNAME, password=PASSWORD)
    assert ok.status_code == 200 and "refresh_token" not in ok.json()
    wrong = token(sandbox, grant_type="password", username=USERNAME, password="nope")
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    bad_client = sandbox.session().post(
        f"{sandbox.url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": "nope",
            "username": USERNAME,
            "password": PASSWORD,
        },
    )
    assert bad_client.json()["error"] == "invalid_client_id"
    unsupported = token(sandbox, grant_type="magic")
    assert unsupported.json()["error"] == "unsupported_grant_type"
