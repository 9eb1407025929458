"""Tiny request/response types shared by the People API, OAuth and control handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .errors import ApiError, invalid_argument

# Standard Google query parameters every client may send; they never change an answer here.
SYSTEM_PARAMS = {"alt", "$.xgafv", "prettyPrint", "fields", "key", "quotaUser", "callback"}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, list[str]]  # repeated parameters (resourceNames=…&resourceNames=…) kept
    headers: dict[str, str]  # lowercased names
    body: bytes
    base_url: str  # http://host:port as the client addressed us

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[0] if values else default

    def param_list(self, name: str) -> list[str]:
        return self.params.get(name, [])

    def bool_param(self, name: str) -> bool:
        return (self.param(name) or "").lower() in ("true", "1")

    def int_param(self, name: str, default: int) -> int:
        raw = self.param(name)
        if raw in (None, ""):
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise invalid_argument(
                f"Invalid value at '{name}' (TYPE_INT32), \"{raw}\"", "INVALID_ARGUMENT"
            ) from exc

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid_argument(f"Invalid JSON payload received. {exc}") from exc

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise invalid_argument("Invalid JSON payload received. Expected an object.")
        return data

    def form(self) -> dict[str, str]:
        """Query and url-encoded body parameters together (OAuth endpoints)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        merged = {k: v[0] for k, v in self.params.items() if v}
        merged.update({k: v[0] for k, v in parsed.items()})
        return merged


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data, separators=(",", ":")).encode())

    @classmethod
    def error(cls, error: ApiError) -> Response:
        response = cls.json(error.body(), error.http_status)
        response.headers.update(error.headers)
        return response

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", None, {"Location": location})
