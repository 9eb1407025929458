"""The Google Contacts sync tests run against the People API sandbox (reset per test) with an
integration connected to it through the OAuth consent flow; the engine drives it over HTTP with
google-api-python-client. The implementations live in tests/support/."""

from __future__ import annotations

import pytest

from tests.support.google_sandbox import GoogleSandbox, connect_account, next_scheduled_cycle
from tests.support.sync import run_cycle_now


@pytest.fixture
def google(google_sandbox: GoogleSandbox) -> GoogleSandbox:
    """An empty Google account with quotas off (quota tests turn them on)."""
    return google_sandbox


@pytest.fixture
def integration(google: GoogleSandbox, crm_schema):
    """Connected through Google's consent page and token endpoint (offline: a refresh token)."""
    return connect_account(google)


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
