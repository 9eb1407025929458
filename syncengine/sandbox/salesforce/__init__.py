"""A local Salesforce org that speaks the real REST, Bulk 2.0 and OAuth wire formats.

It imports nothing from Concord: it stands for Salesforce. See README.md for the org file format
and the /_sandbox/ control API.
"""

from __future__ import annotations

from .server import make_server, serve

__all__ = ["make_server", "serve"]
