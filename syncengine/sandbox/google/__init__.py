"""A local Google People API (Contacts) that speaks the real v1 wire format and OAuth 2.0.

It imports nothing from Concord: it stands for Google. See README.md for the control API.
"""

from __future__ import annotations

from .server import make_server, serve

__all__ = ["make_server", "serve"]
