"""Connect the local sandboxes without a browser (the connect_*_sandbox commands, tests and
benchmarks): answer the sandbox's consent page as its user, then connect with the code, which
yields a refresh token (a password grant does not). Not for production remotes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests
from django.conf import settings

from syncengine.connectors.base import AuthError, TransientError
from syncengine.connectors.google_contacts import oauth as google_oauth
from syncengine.connectors.salesforce.oauth import plain_session
from syncengine.models import Integration
from syncengine.services.connect import Connection, build_authorization_request, connect

TIMEOUT = 30


def _consent(
    connection: Connection, *, authorize_path: str, session: requests.Session, answer: dict
) -> Integration:
    """Allow access on the sandbox's consent page, then connect with the code it redirects to."""
    redirect_uri = (
        f"{settings.CONCORD_BASE_URL.rstrip('/')}/admin/syncengine/integration/oauth-callback/"
    )
    auth = build_authorization_request(connection=connection, redirect_uri=redirect_uri)
    params = {k: v[0] for k, v in parse_qs(urlparse(auth.url).query).items()}
    base = connection.login_url.rstrip("/")
    try:
        response = session.post(
            f"{base}{authorize_path}",
            data={**params, **answer, "action": "allow"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientError(f"{connection.login_url} unreachable: {exc}") from exc
    query = parse_qs(urlparse(response.headers.get("Location", "")).query)
    if "code" not in query or query.get("state", [""])[0] != auth.state:
        raise AuthError(f"the sandbox did not grant access: {query.get('error', ['?'])[0]}")
    return connect(
        connection=connection,
        code=query["code"][0],
        redirect_uri=redirect_uri,
        code_verifier=auth.code_verifier,
    )


def connect_sandbox_org(
    *,
    login_url: str,
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
    ca_file: str = "",
    name: str = "",
) -> Integration:
    """Connect the local Salesforce sandbox's org, signing in as its integration user."""
    connection = Connection(
        kind=Integration.Kind.SALESFORCE,
        login_url=login_url,
        client_id=client_id,
        client_secret=client_secret,
        name=name,
        ca_file=ca_file,
    )
    return _consent(
        connection,
        authorize_path="/services/oauth2/authorize",
        session=plain_session(ca_file),
        answer={"username": username, "password": password},
    )


def connect_sandbox_account(
    *, oauth_url: str, client_id: str, client_secret: str, name: str = ""
) -> Integration:
    """Connect the local Google sandbox's account."""
    connection = Connection(
        kind=Integration.Kind.GOOGLE_CONTACTS,
        login_url=oauth_url,
        client_id=client_id,
        client_secret=client_secret,
        name=name,
        api_endpoint=f"{oauth_url.rstrip('/')}/",
    )
    return _consent(
        connection,
        authorize_path="/o/oauth2/v2/auth",
        session=google_oauth.plain_session(),
        answer={},
    )
