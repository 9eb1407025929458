"""Debian's headless Chromium, driven by Playwright, for the browser tests.

A pytest plugin (tests/conftest.py registers it): `browser_page`.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.db import connections

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser_page():
    """A page of a fresh headless Chromium (downloads accepted)."""
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
