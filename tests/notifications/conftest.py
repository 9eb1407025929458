"""A real SMTP server (aiosmtpd) receiving the digests, and sync errors to digest."""

from __future__ import annotations

import datetime as dt
import email
import itertools
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from syncengine.models import Integration, SyncError
from tests.factories import UserFactory
from tests.roles import ROLES, grant_role

_keys = itertools.count()


class Inbox:
    """The aiosmtpd handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


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
    return Integration.objects.create(name="Salesforce production")


def make_error(
    integration,
    *,
    first_seen: dt.datetime,
    category: str = SyncError.Category.PROPERTY_VALUES,
    code: str = "REQUIRED_FIELD_MISSING",
    message: str = "Required fields are missing: [LastName]",
    status: str = SyncError.Status.OPEN,
    resolved_at: dt.datetime | None = None,
    record=None,
    occurrences: int = 1,
) -> SyncError:
    return SyncError.objects.create(
        integration=integration,
        category=category,
        code=code,
        message=message,
        key=f"k{next(_keys)}",
        first_seen_at=first_seen,
        last_seen_at=first_seen,
        status=status,
        resolved_at=resolved_at,
        record=record,
        object_type=record.object_type if record else None,
        occurrences=occurrences,
    )
