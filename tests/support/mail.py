"""Reading the emails a real SMTP server (aiosmtpd) received."""

from __future__ import annotations

import email
from email import policy


class Inbox:
    """The aiosmtpd handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


def text_of(message) -> str:
    """The plain-text body of an email."""
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    """The HTML body of an email."""
    return message.get_body(("html",)).get_content()
