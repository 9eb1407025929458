"""The one family of refusals: every service error says its HTTP status, code, field and message.

It lives in the project package, not in an app, and imports nothing: `crm` (which imports no
other app), `backups` and `syncengine` each derive their errors from it without depending on one
another, and config/api.py's exception handler answers any of them from these attributes alone
(no chain of isinstance per subclass, no view catching them one by one).
"""

from __future__ import annotations

from typing import Any


class ConcordError(Exception):
    """A refused request; nothing was changed.

    `status` is the HTTP answer, `code` a stable machine code (snake_case, never reworded),
    `field` the input at fault if one is, `message` the sentence a person reads, and `extra`
    machine-readable detail that joins the body beside them.
    """

    status: int = 400
    code: str = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        self.extra: dict[str, Any] = dict(extra or {})

    def body(self) -> dict[str, Any]:
        """The error body (config/schema.py `Error`): sentence, code, field, any extra."""
        body: dict[str, Any] = {"detail": self.message, "code": self.code}
        if self.field:
            body["errors"] = {self.field: [self.message]}
        return {**body, **self.extra}

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries (e.g. Retry-After)."""
        return {}
