"""The Salesforce sandbox's own tests: the session's sandbox process, a simple-salesforce
client and a bearer-token session on it; faults, clock and limits reset after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from tests.support.salesforce_sandbox import API_VERSION, SalesforceSandbox


@pytest.fixture(scope="session")
def sandbox(salesforce_sandbox_process: SalesforceSandbox) -> SalesforceSandbox:
    return salesforce_sandbox_process


@pytest.fixture(scope="session")
def sf(sandbox: SalesforceSandbox) -> Salesforce:
    return sandbox.client()


@pytest.fixture
def api(sandbox: SalesforceSandbox, sf: Salesforce) -> requests.Session:
    """A plain requests session carrying the same bearer token as ``sf``."""
    session = sandbox.session()
    session.headers["Authorization"] = f"Bearer {sf.session_id}"
    return session


@pytest.fixture
def data_url(sandbox: SalesforceSandbox) -> str:
    return f"{sandbox.url}/services/data/v{API_VERSION}"


@pytest.fixture(autouse=True)
def _clear_faults(sandbox: SalesforceSandbox) -> Iterator[None]:
    yield
    sandbox.control("DELETE", "faults")
    sandbox.control("DELETE", "clock")
    sandbox.control("PATCH", "limits", json={"daily_api_limit": 15000})
