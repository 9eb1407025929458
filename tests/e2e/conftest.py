"""Debian's headless Chromium, driven by Playwright, for the admin's browser tests."""

from __future__ import annotations

import os

import pytest
from django.db import connections

from tests.conftest import CHROMIUM


@pytest.fixture
def browser_page():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are ordinary synchronous ones.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(accept_downloads=True)
        yield context.new_page()
        browser.close()
    # The live server's threads opened connections of their own; close them so the test
    # database can be dropped without "being accessed by other users".
    connections.close_all()
