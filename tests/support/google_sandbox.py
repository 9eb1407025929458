"""The Google People API sandbox for tests: one subprocess per session (temp state file), its
control API, and helpers to build contacts and read Google's error envelope.

A pytest plugin (tests/conftest.py registers it): `google_sandbox_process` starts the process
once; `google_sandbox` is that process reset for one test. Tests drive it with the real
google-api-python-client built from its static discovery document and pointed at the sandbox
with ``client_options={"api_endpoint": ...}``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import google_auth_httplib2
import httplib2
import pytest
import requests
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.support.processes import start_announcing, stop_process

CONTACTS = "https://www.googleapis.com/auth/contacts"
OTHER_READONLY = "https://www.googleapis.com/auth/contacts.other.readonly"
CLIENT_ID = "concord-sandbox.apps.googleusercontent.com"
CLIENT_SECRET = "sandbox-secret"


@dataclass
class GoogleSandbox:
    """A running sandbox: its URL, state file and process."""

    url: str  # http://127.0.0.1:PORT/
    state: Path
    process: subprocess.Popen[str]

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no proxies or CA bundles from the environment
        return session

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.session().request(
            method, f"{self.url}_sandbox/{path}", timeout=30, **kwargs
        )
        return response

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.control(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def mint_token(self, scope: str = f"{CONTACTS} {OTHER_READONLY}", **extra: Any) -> dict:
        return self.ok("POST", "tokens", json={"scope": scope, **extra})

    def service(self, credentials: google.oauth2.credentials.Credentials) -> Any:
        # proxy_info=None: httplib2 must not route 127.0.0.1 through an environment proxy.
        http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(proxy_info=None, timeout=30)
        )
        return build(
            "people",
            "v1",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": self.url},
        )

    def service_for_token(self, access_token: str) -> Any:
        return self.service(google.oauth2.credentials.Credentials(token=access_token))


def start_sandbox(state: Path, port: int = 0) -> GoogleSandbox:
    """Start `python -m syncengine.sandbox.google` and wait until it listens."""
    process, found = start_announcing(
        "syncengine.sandbox.google",
        ["--port", str(port), "--state", str(state)],
        {"url": r"listening on (http://\S+)"},
    )
    return GoogleSandbox(found["url"], state, process)


def stop_sandbox(sandbox: GoogleSandbox) -> None:
    """Stop the sandbox (SIGTERM, then SIGKILL after 10 s)."""
    stop_process(sandbox.process)


def settle(sandbox: GoogleSandbox) -> None:
    """Let the writes made so far propagate to sync answers (Google: "Writes may have a
    propagation delay of several minutes for sync requests"): advance the sandbox clock."""
    delay = sandbox.ok("GET", "limits")["propagation_delay_seconds"]
    sandbox.ok("POST", "clock/advance", json={"seconds": delay})


def error_of(exc: HttpError) -> dict[str, Any]:
    """The ``error`` object of Google's envelope."""
    return json.loads(exc.content)["error"]


def reason_of(exc: HttpError) -> str | None:
    """The ``reason`` of the first detail of Google's error envelope."""
    details = error_of(exc).get("details") or [{}]
    return details[0].get("reason")


def list_connections(people: Any, person_fields: str = "names", **params: Any) -> dict:
    """One page of people/me's connections (people.connections.list), as Google answers it."""
    return (
        people.people()
        .connections()
        .list(resourceName="people/me", personFields=person_fields, **params)
        .execute()
    )


def person(given: str, family: str = "Tester", email: str | None = None, **fields: Any) -> dict:
    """A Person body with a name and a work email."""
    body: dict[str, Any] = {"names": [{"givenName": given, "familyName": family}]}
    body["emailAddresses"] = [{"value": email or f"{given.lower()}@example.com", "type": "work"}]
    body.update(fields)
    return body


def create_many(people: Any, count: int, prefix: str = "bulk") -> list[dict]:
    """Create contacts through batchCreateContacts, 200 a call; returns them."""
    created: list[dict] = []
    for start in range(0, count, 200):
        chunk = [
            {"contactPerson": person(f"{prefix}{i}", email=f"{prefix}{i}@example.com")}
            for i in range(start, min(count, start + 200))
        ]
        answer = (
            people.people()
            .batchCreateContacts(body={"contacts": chunk, "readMask": "names,emailAddresses"})
            .execute()
        )
        created.extend(r["person"] for r in answer["createdPeople"])
    return created


def google_contact(google, body: dict, starred: bool = False) -> dict:
    """Create a contact as the Google user (in the Contacts web UI)."""
    created = google.ok("POST", "contacts", json=body)
    if starred:
        google.ok("POST", f"contacts/{cid(created)}/star")
    return created


def cid(contact: dict) -> str:
    """The contact id of a Person (its resource name's last part)."""
    return contact["resourceName"].split("/")[-1]


def google_people(google) -> dict[str, dict]:
    """Live Google contacts by first email (as the control API shows them)."""
    return {
        (c.get("emailAddresses") or [{}])[0].get("value", c["resourceName"]): c
        for c in google.ok("GET", "contacts")["contacts"]
    }


QUOTAS_OFF = {
    "read_requests_per_minute": 0,
    "write_requests_per_minute": 0,
    "group_read_requests_per_minute": 0,
    "delete_requests_per_minute": 0,
}


@pytest.fixture(scope="session")
def google_sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoogleSandbox]:
    """The Google People API sandbox, started once per test session."""
    root = tmp_path_factory.mktemp("google-sandbox")
    process = start_sandbox(root / "state.sqlite3")
    yield process
    stop_sandbox(process)


@pytest.fixture
def google_sandbox(google_sandbox_process: GoogleSandbox) -> GoogleSandbox:
    """An empty Google account with quotas off (quota tests turn them on)."""
    google_sandbox_process.ok("POST", "reset")
    google_sandbox_process.ok("PATCH", "quotas", json=QUOTAS_OFF)
    return google_sandbox_process


def connect_account(google: GoogleSandbox, name: str = "Google sandbox"):
    """An integration connected through Google's consent page and token endpoint (offline:
    a refresh token)."""
    from syncengine.management.sandbox_connect import connect_sandbox_account

    return connect_sandbox_account(
        oauth_url=google.url.rstrip("/"),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        name=name,
    )


def next_scheduled_cycle(google: GoogleSandbox, integration) -> None:
    """Time passes until the next scheduled cycle (the integration's sync interval): writes
    made meanwhile have propagated to Google's sync answers."""
    integration.refresh_from_db()
    seconds = integration.sync_interval_minutes * 60
    google.ok("POST", "clock/advance", json={"seconds": seconds})
