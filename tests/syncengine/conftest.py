"""The Salesforce sandbox for sync-engine tests (one subprocess per session, reset per test),
and a connected integration driven with the real client library over HTTPS."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.sandbox.conftest import start_sandbox, stop_sandbox

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "concord", "sandbox-secret"
USERNAME, PASSWORD = "integration@example.com", "sandbox"


@dataclass
class Sandbox:
    url: str
    ca_cert: str
    process: subprocess.Popen

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = self.ca_cert
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify otherwise
        return session

    def control(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session().request(
            method, f"{self.url}/_sandbox/{path}", timeout=30, **kwargs
        )
        response.raise_for_status()
        return response

    def create(self, sobject: str, **fields) -> str:
        return self.control("POST", f"records/{sobject}", json=fields).json()["id"]

    def get(self, sobject: str, record_id: str) -> dict:
        return self.control("GET", f"records/{sobject}/{record_id}").json()

    def update(self, sobject: str, record_id: str, **fields) -> None:
        self.control("PATCH", f"records/{sobject}/{record_id}", json=fields)

    def delete(self, sobject: str, record_id: str) -> None:
        self.control("DELETE", f"records/{sobject}/{record_id}")

    def status(self) -> dict:
        return self.control("GET", "").json()

    def api_used(self) -> int:
        return self.control("GET", "limits").json()["api_calls_used"]

    def count(self, sobject: str) -> int:
        return self.status()["records"].get(sobject, 0)


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("sf-sandbox")
    started = start_sandbox(root / "state.sqlite3", root / "ca", seed=11)
    yield Sandbox(started.url, started.ca_cert, started.process)
    stop_sandbox(started)


@pytest.fixture
def sandbox(sandbox_process: Sandbox) -> Iterator[Sandbox]:
    sandbox_process.control("POST", "reset")
    yield sandbox_process
    sandbox_process.control("DELETE", "faults")


@pytest.fixture
def integration(sandbox: Sandbox, crm_schema):
    """Connected through the OAuth web-server flow (so it holds a refresh token)."""
    from syncengine.services.integrations import connect_sandbox_org

    return connect_sandbox_org(
        login_url=sandbox.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username=USERNAME,
        password=PASSWORD,
        ca_file=sandbox.ca_cert,
        name="Sandbox org",
    )


def no_sleep(seconds: float) -> None:
    """Backoff pauses are skipped in tests; the retries still happen."""


def run_cycle_now(integration):
    """Run one full cycle of the integration now, in process, and return it with its stages."""
    from syncengine.models import SyncCycle
    from syncengine.services.cycles import CycleRunner, claim_cycle
    from syncengine.services.integrations import build_connector

    integration.refresh_from_db()
    cycle = SyncCycle.objects.create(integration=integration, trigger="manual")
    cycle = claim_cycle(cycle_id=cycle.pk)
    runner = CycleRunner(cycle)
    runner._connector = build_connector(integration=integration, meter=runner.meter, sleep=no_sleep)
    runner.run()
    cycle.refresh_from_db()
    return cycle


@pytest.fixture
def run(integration):
    """Run one full cycle now (of the fixture's integration unless another is given)."""
    return lambda target=None: run_cycle_now(target or integration)


def stage_of(cycle, operation: str, remote_object: str = ""):
    return cycle.stages.get(operation=operation, remote_object=remote_object)
