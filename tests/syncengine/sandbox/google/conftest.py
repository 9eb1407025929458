"""The Google People API sandbox's own tests: the session's sandbox process, a bearer token and
a People API service on it; every test starts from an empty account with quotas off."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.google_sandbox import GoogleSandbox


@pytest.fixture(scope="session")
def sandbox(google_sandbox_process: GoogleSandbox) -> GoogleSandbox:
    return google_sandbox_process


@pytest.fixture(scope="session")
def token(sandbox: GoogleSandbox) -> dict[str, Any]:
    return sandbox.mint_token(ttl=24 * 3600)


@pytest.fixture(scope="session")
def people(sandbox: GoogleSandbox, token: dict[str, Any]) -> Any:
    """A People API service as the connector will build it, with a valid bearer token."""
    return sandbox.service_for_token(token["access_token"])


@pytest.fixture(autouse=True)
def _fresh_account(google_sandbox: GoogleSandbox) -> None:
    """Every test starts from an empty account with quotas off (quota tests turn them on)."""
