"""The Salesforce sandbox for tests: one subprocess per session (temp state and CA dir), its
control API, a simple-salesforce client, and an integration connected to it over OAuth.

A pytest plugin (tests/conftest.py registers it): `salesforce_sandbox_process` starts the
process once; `salesforce_sandbox` is that process reset for one test.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from tests.support.processes import start_announcing, stop_process

API_VERSION = "62.0"
CLIENT_ID, CLIENT_SECRET = "concord", "sandbox-secret"
USERNAME, PASSWORD = "integration@example.com", "sandbox"
# Injected faults draw from a seeded generator, so a run that fails can be replayed.
SEED = 11


@dataclass
class SalesforceSandbox:
    """A running sandbox: its URL, CA certificate, state file and process."""

    url: str
    ca_cert: str
    state: Path
    ca_dir: Path
    process: subprocess.Popen[str]

    def session(self) -> requests.Session:
        """A requests session that trusts the sandbox CA (and nothing from the environment)."""
        session = requests.Session()
        session.verify = self.ca_cert
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify; ignore the
        # environment so the sandbox CA is the one used.
        session.trust_env = False
        return session

    def control(
        self, method: str, path: str, *, check: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Call the sandbox's control API (`/_sandbox/…`); an error answer raises unless
        `check=False` (for tests about the error answers themselves)."""
        response = self.session().request(
            method, f"{self.url}/_sandbox/{path}", timeout=30, **kwargs
        )
        if check:
            response.raise_for_status()
        return response

    def create(self, sobject: str, **fields: Any) -> str:
        return self.control("POST", f"records/{sobject}", json=fields).json()["id"]

    def get(self, sobject: str, record_id: str) -> dict:
        return self.control("GET", f"records/{sobject}/{record_id}").json()

    def update(self, sobject: str, record_id: str, **fields: Any) -> None:
        self.control("PATCH", f"records/{sobject}/{record_id}", json=fields)

    def delete(self, sobject: str, record_id: str) -> None:
        self.control("DELETE", f"records/{sobject}/{record_id}")

    def status(self) -> dict:
        return self.control("GET", "").json()

    def api_used(self) -> int:
        return self.control("GET", "limits").json()["api_calls_used"]

    def count(self, sobject: str) -> int:
        return self.status()["records"].get(sobject, 0)

    def password_token(self) -> dict[str, str]:
        """An access token from the OAuth password grant."""
        response = self.session().post(
            f"{self.url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "username": USERNAME,
                "password": PASSWORD,
            },
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def client(self) -> Salesforce:
        """A simple-salesforce client signed in with the password grant."""
        token = self.password_token()
        return Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            version=API_VERSION,
            session=self.session(),
        )


def start_sandbox(state: Path, ca_dir: Path, port: int = 0, seed: int = SEED) -> SalesforceSandbox:
    """Start `python -m syncengine.sandbox.salesforce` and wait until it listens."""
    args = [
        "--port",
        str(port),
        "--state",
        str(state),
        "--ca-dir",
        str(ca_dir),
        "--seed",
        str(seed),
    ]
    process, found = start_announcing(
        "syncengine.sandbox.salesforce",
        args,
        {"url": r"listening on (https://\S+)", "ca_cert": r"CA certificate: (\S+)"},
    )
    return SalesforceSandbox(found["url"], found["ca_cert"], state, ca_dir, process)


def stop_sandbox(sandbox: SalesforceSandbox) -> None:
    """Stop the sandbox (SIGTERM, then SIGKILL after 10 s)."""
    stop_process(sandbox.process)


def hold_clock(sandbox) -> str:
    """Hold the sandbox's clock on the current second; returns the stamp every write gets."""
    return sandbox.control("POST", "clock", json={}).json()["held_at"]


def sales_user_headers(sandbox) -> dict[str, str]:
    """The bearer header of the org's sales user (not the integration user)."""
    form = {"grant_type": "password", "client_id": "concord", "client_secret": "sandbox-secret",
            "username": "sales@example.com", "password": "sandbox"}  # fmt: skip
    response = sandbox.session().post(f"{sandbox.url}/services/oauth2/token", data=form, timeout=30)
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def remote_collection(sandbox, method: str, records: list[dict]) -> None:
    """Create or update contacts through sObject Collections, as a sales user's tool would."""
    headers = sales_user_headers(sandbox)
    session = sandbox.session()
    for start in range(0, len(records), 200):
        response = session.request(
            method,
            f"{sandbox.url}/services/data/v62.0/composite/sobjects",
            json={"allOrNone": False, "records": records[start : start + 200]},
            headers=headers,
            timeout=120,
        )
        response.raise_for_status()
        assert all(item["success"] for item in response.json())


def connect_org(sandbox: SalesforceSandbox, name: str = "Sandbox org"):
    """An integration connected to the sandbox org through the OAuth web-server flow (so it
    holds a refresh token); for tests that cannot use the `integration` fixture (real workers
    need a transactional database)."""
    from syncengine.management.sandbox_connect import connect_sandbox_org

    return connect_sandbox_org(
        login_url=sandbox.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username=USERNAME,
        password=PASSWORD,
        ca_file=sandbox.ca_cert,
        name=name,
    )


@pytest.fixture(scope="session")
def salesforce_sandbox_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SalesforceSandbox]:
    """The Salesforce sandbox, started once per test session."""
    root = tmp_path_factory.mktemp("salesforce-sandbox")
    process = start_sandbox(root / "state.sqlite3", root / "ca")
    yield process
    stop_sandbox(process)


@pytest.fixture
def salesforce_sandbox(
    salesforce_sandbox_process: SalesforceSandbox,
) -> Iterator[SalesforceSandbox]:
    """The sandbox with an empty org, reset again afterwards: what a test changed in the org
    (a user deactivated, a fault, a held clock) must not reach the sandbox's own tests, which
    share this process without resetting it."""
    salesforce_sandbox_process.control("POST", "reset")
    yield salesforce_sandbox_process
    salesforce_sandbox_process.control("POST", "reset")


@pytest.fixture
def salesforce_integration(salesforce_sandbox: SalesforceSandbox, crm_schema):
    """An integration connected to the empty sandbox org through the OAuth web-server flow
    (so it holds a refresh token)."""
    return connect_org(salesforce_sandbox)


def contacts_in_one_second(sandbox, name: str, count: int) -> str:
    """`count` Salesforce contacts ("<name> i", <name>i@x.com, title "Before") written while the
    sandbox's clock is held on one second; returns the SystemModstamp they all share."""
    stamp = hold_clock(sandbox)
    remote_collection(
        sandbox,
        "POST",
        [
            {"attributes": {"type": "Contact"}, "LastName": f"{name} {i}",
             "Email": f"{name.lower()}{i}@x.com", "Title": "Before"}
            for i in range(count)
        ],
    )  # fmt: skip
    return stamp
