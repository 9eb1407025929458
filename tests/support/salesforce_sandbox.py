"""Starts the Salesforce sandbox once per test session (a subprocess, temp state and CA dir)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce

PROJECT_ROOT = Path(__file__).resolve().parents[2]
API_VERSION = "62.0"
CLIENT_ID, CLIENT_SECRET = "concord", "sandbox-secret"
USERNAME, PASSWORD = "integration@example.com", "sandbox"


@dataclass
class SandboxProcess:
    url: str
    ca_cert: str
    state: Path
    ca_dir: Path
    process: subprocess.Popen[str]

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = self.ca_cert
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify; ignore the
        # environment so the sandbox CA is the one used.
        session.trust_env = False
        return session

    def control(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return self.session().request(method, f"{self.url}/_sandbox/{path}", timeout=10, **kwargs)

    def password_token(self) -> dict[str, str]:
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
        token = self.password_token()
        return Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            version=API_VERSION,
            session=self.session(),
        )


def start_sandbox(state: Path, ca_dir: Path, port: int = 0, seed: int = 7) -> SandboxProcess:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syncengine.sandbox.salesforce",
            "--port",
            str(port),
            "--state",
            str(state),
            "--ca-dir",
            str(ca_dir),
            "--seed",
            str(seed),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = ca_cert = None
    deadline = time.monotonic() + 20
    assert process.stdout is not None
    while time.monotonic() < deadline and (url is None or ca_cert is None):
        line = process.stdout.readline()
        if not line:
            break
        if match := re.search(r"listening on (https://\S+)", line):
            url = match.group(1)
        if match := re.search(r"CA certificate: (\S+)", line):
            ca_cert = match.group(1)
    if url is None or ca_cert is None:
        process.kill()
        raise RuntimeError(f"sandbox did not start: {process.stdout.read()}")
    return SandboxProcess(url, ca_cert, state, ca_dir, process)


def stop_sandbox(sandbox: SandboxProcess) -> None:
    sandbox.process.terminate()
    try:
        sandbox.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sandbox.process.kill()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    root = tmp_path_factory.mktemp("salesforce-sandbox")
    process = start_sandbox(root / "state.sqlite3", root / "ca")
    yield process
    stop_sandbox(process)


@pytest.fixture(scope="session")
def sf(sandbox: SandboxProcess) -> Salesforce:
    return sandbox.client()


@pytest.fixture
def api(sandbox: SandboxProcess, sf: Salesforce) -> requests.Session:
    """A plain requests session carrying the same bearer token as ``sf``."""
    session = sandbox.session()
    session.headers["Authorization"] = f"Bearer {sf.session_id}"
    return session


@pytest.fixture
def data_url(sandbox: SandboxProcess) -> str:
    return f"{sandbox.url}/services/data/v{API_VERSION}"


@pytest.fixture(autouse=True)
def _clear_faults(sandbox: SandboxProcess) -> Iterator[None]:
    yield
    sandbox.control("DELETE", "faults")
    sandbox.control("DELETE", "clock")
    sandbox.control("PATCH", "limits", json={"daily_api_limit": 15000})
