"""The Google People API sandbox for Google Contacts sync tests (one subprocess per session,
reset per test) and an integration connected to it through the OAuth consent flow; the engine
drives it over HTTP with google-api-python-client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox_google.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    QUOTAS_OFF,
    SandboxProcess,
    person,
    start_sandbox,
    stop_sandbox,
)
from tests.syncengine.conftest import no_sleep, run_cycle_now

__all__ = ["no_sleep", "person"]


@pytest.fixture(scope="session")
def google_process(tmp_path_factory) -> Iterator[SandboxProcess]:
    root = tmp_path_factory.mktemp("google-sync-sandbox")
    process = start_sandbox(root / "state.sqlite3")
    yield process
    stop_sandbox(process)


@pytest.fixture
def google(google_process: SandboxProcess) -> SandboxProcess:
    """An empty Google account with quotas off (quota tests turn them on)."""
    google_process.ok("POST", "reset")
    google_process.ok("PATCH", "quotas", json=QUOTAS_OFF)
    return google_process


@pytest.fixture
def integration(google: SandboxProcess, crm_schema):
    """Connected through Google's consent page and token endpoint (offline: a refresh token)."""
    from syncengine.management.sandbox_connect import connect_sandbox_account

    return connect_sandbox_account(
        oauth_url=google.url.rstrip("/"),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        name="Google sandbox",
    )


def next_scheduled_cycle(google: SandboxProcess, integration) -> None:
    """Time passes until the next scheduled cycle (the integration's sync interval): writes
    made meanwhile have propagated to Google's sync answers."""
    integration.refresh_from_db()
    seconds = integration.sync_interval_minutes * 60
    google.ok("POST", "clock/advance", json={"seconds": seconds})


@pytest.fixture
def run(integration, google):
    """The next scheduled cycle, run now in process (the sandbox clock moves on first)."""

    def run_next(target=None):
        next_scheduled_cycle(google, target or integration)
        return run_cycle_now(target or integration)

    return run_next


@pytest.fixture
def sync_now(integration):
    """A cycle run right away ("Sync now"): Google's sync answers may lag recent writes."""
    return lambda target=None: run_cycle_now(target or integration)


def stage_of(cycle, operation: str):
    return cycle.stages.get(operation=operation, remote_object="Person")
