"""Tiny request/response types shared by the REST, OAuth and control handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .errors import ApiError


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]  # lowercased names
    body: bytes
    base_url: str  # https://host:port as the client addressed us

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError("JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        form = {k: v[0] for k, v in parsed.items()}
        return {**self.params, **form}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> Response:
        return cls(status, json.dumps(data, separators=(",", ":")).encode(), headers=headers)

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status, b"", None)

    @classmethod
    def error(cls, error: ApiError) -> Response:
        return cls.json([error.top_level()], error.status)

    @classmethod
    def text(cls, text: str, content_type: str, status: int = 200) -> Response:
        return cls(status, text.encode(), content_type)

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", None, {"Location": location})


def method_not_allowed(method: str, allowed: list[str]) -> ApiError:
    return ApiError(
        "METHOD_NOT_ALLOWED",
        f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
        status=405,
    )
