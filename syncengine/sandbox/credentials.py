"""Settings and OAuth tokens in a sandbox's SQLite state, shared by every sandbox.

A store that mixes this in provides `self._db` (an autocommit sqlite3 connection) and
`self.lock` (an RLock), and creates TABLES in its schema.
"""

from __future__ import annotations

import json
import time
from typing import Any

TABLES = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    kind TEXT NOT NULL,           -- access | refresh | code
    data TEXT NOT NULL,
    expires_at REAL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


class SettingsAndTokens:
    """Key/value settings and OAuth codes and tokens (issued, expired, revoked, consumed)."""

    _db: Any
    lock: Any

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self.lock:
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.lock:
            self._db.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                (key, json.dumps(value)),
            )

    def delete_setting(self, key: str) -> None:
        with self.lock:
            self._db.execute("DELETE FROM settings WHERE key = ?", (key,))

    # --- OAuth tokens --------------------------------------------------------------------------

    def save_token(
        self, token: str, kind: str, data: dict[str, Any], expires_at: float | None
    ) -> None:
        with self.lock:
            self._db.execute(
                "INSERT OR REPLACE INTO tokens (token, kind, data, expires_at, revoked) "
                "VALUES (?, ?, ?, ?, 0)",
                (token, kind, json.dumps(data), expires_at),
            )

    def load_token(self, token: str, kind: str) -> tuple[dict[str, Any], float | None, bool] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT data, expires_at, revoked FROM tokens WHERE token = ? AND kind = ?",
                (token, kind),
            ).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), row[1], bool(row[2])

    def revoke_token(self, token: str) -> bool:
        """Revoke a token; revoking a refresh token also revokes the access tokens it issued."""
        with self.lock:
            row = self._db.execute("SELECT kind FROM tokens WHERE token = ?", (token,)).fetchone()
            if row is None:
                return False
            self._db.execute("UPDATE tokens SET revoked = 1 WHERE token = ?", (token,))
            if row[0] == "refresh":
                self._db.execute(
                    "UPDATE tokens SET revoked = 1 WHERE kind = 'access' "
                    "AND json_extract(data, '$.refresh_token') = ?",
                    (token,),
                )
            return True

    def expire_access_tokens(self, token: str | None = None) -> int:
        with self.lock:
            sql = "UPDATE tokens SET expires_at = ? WHERE kind = 'access'"
            args: tuple[Any, ...] = (time.time() - 1,)
            if token:
                sql += " AND token = ?"
                args += (token,)
            return self._db.execute(sql, args).rowcount

    def consume_code(self, code: str) -> bool:
        """Mark an authorization code used; False when it already was (codes are single-use)."""
        with self.lock:
            cursor = self._db.execute(
                "UPDATE tokens SET revoked = 1 WHERE token = ? AND kind = 'code' AND revoked = 0",
                (code,),
            )
            return cursor.rowcount == 1
