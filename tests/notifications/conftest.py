"""A real SMTP server (aiosmtpd) receiving the digests, staff to receive them, an integration."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from tests.factories import IntegrationFactory, UserFactory
from tests.support.mail import Inbox
from tests.support.roles import ROLES, grant_role


@pytest.fixture
def smtp(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.CONCORD_BASE_URL = "https://crm.example.com"
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def staff(db):
    """An admin: staff who may see sync errors, so who receives their digests."""
    return grant_role(UserFactory(is_staff=True, email="ops@example.com"), ROLES.ADMIN)


@pytest.fixture
def integration(db):
    return IntegrationFactory(name="Salesforce production")


@pytest.fixture
def staff_client(db):
    """A client signed in as a fresh admin (its user at `client.user`)."""
    staff = grant_role(UserFactory(is_staff=True), "Admin")
    client = Client()
    client.force_login(staff)
    client.user = staff
    return client
