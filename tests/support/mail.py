"""Reading the emails a real SMTP server (aiosmtpd) received."""

from __future__ import annotations

import email
from email import policy


class Inbox:
    """The aiosmtpd handler: keeps every message it receives.

    `refused` maps an address to the reply the server refuses it with ("550 5.1.1 No such
    user"), as a real server refuses an unknown mailbox at RCPT.
    """

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refused: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


def text_of(message) -> str:
    """The plain-text body of an email."""
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    """The HTML body of an email."""
    return message.get_body(("html",)).get_content()
