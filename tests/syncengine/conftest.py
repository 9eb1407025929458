"""The Salesforce sandbox for sync-engine tests (one subprocess per session, reset per test),
and a connected integration driven with the real client library over HTTPS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.db import connection

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
    sandbox_process.control("DELETE", "clock")


def connect_org(sandbox: Sandbox, name: str = "Sandbox org"):
    """An integration connected to the sandbox org through the OAuth web-server flow (so it
    holds a refresh token); for tests that cannot use the `integration` fixture (real workers
    need a transactional database)."""
    from syncengine.services.integrations import connect_sandbox_org

    return connect_sandbox_org(
        login_url=sandbox.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username=USERNAME,
        password=PASSWORD,
        ca_file=sandbox.ca_cert,
        name=name,
    )


@pytest.fixture
def integration(sandbox: Sandbox, crm_schema):
    """Connected through the OAuth web-server flow (so it holds a refresh token)."""
    return connect_org(sandbox)


def no_sleep(seconds: float) -> None:
    """Backoff pauses are skipped in tests; the retries still happen."""


def run_cycle_now(integration):
    """Run one full cycle of the integration now, in process, and return it with its stages
    (whichever remote the integration is connected to)."""
    from syncengine.engine.cycles import claim_cycle
    from syncengine.engine.runner import CycleRunner
    from syncengine.models import SyncCycle
    from syncengine.services.integrations import build_connector

    integration.refresh_from_db()
    cycle = SyncCycle.objects.create(integration=integration, trigger="manual")
    cycle = claim_cycle(cycle_id=cycle.pk)
    runner = CycleRunner(cycle)
    runner._connector = build_connector(integration=integration, meter=runner.meter, sleep=no_sleep)
    runner.run()
    cycle.refresh_from_db()
    cycle.connector = runner._connector  # for tests that look at its retries and calls
    return cycle


@pytest.fixture
def run(integration):
    """Run one full cycle now (of the fixture's integration unless another is given)."""
    return lambda target=None: run_cycle_now(target or integration)


def stage_of(cycle, operation: str, remote_object: str = ""):
    return cycle.stages.get(operation=operation, remote_object=remote_object)


class WorkerProcess:
    """A real `celery worker` on its own queue that a test can SIGKILL and start again."""

    def __init__(self, queue: str, env: dict[str, str]) -> None:
        self.queue, self.env = queue, env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
             "--concurrency=1", "-Q", self.queue, "--without-heartbeat", "--without-gossip",
             "--without-mingle", "-l", "warning"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: a kill reaches its children too
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the worker and its children: no shutdown code runs, nothing is acked."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


@pytest.fixture
def restartable_worker(transactional_db, settings) -> Iterator[WorkerProcess]:
    """A worker (not started) on this test's PostgreSQL database, a private queue (the tasks it
    sends itself too) and a short sync lease, so a killed worker's cycle is soon reclaimable."""
    from config.celery import app

    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{connection.settings_dict['NAME']}"
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CONCORD_EAGER_TASKS": "0",
        "CONCORD_CELERY_QUEUE": queue,
        "CONCORD_SYNC_LEASE_SECONDS": "4",
    }
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.CONCORD_SYNC_LEASE_SECONDS = 4
    saved = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    worker = WorkerProcess(queue, env)
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_default_queue, app.conf.task_always_eager = saved
