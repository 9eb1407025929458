"""``python -m config.demo_env var/demo.env`` — the demo's secrets, random, generated once.

`make demo` loads the file into every command and process it starts, so the demo needs no
configuration and still runs on secrets nobody else has. An existing file is kept: the demo's
stored OAuth tokens stay readable across restarts.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet


def demo_environment() -> dict[str, str]:
    """A fresh secret key and encryption key (shell- and honcho-safe values)."""
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CONCORD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def write_demo_env(path: Path) -> bool:
    """Write `path` with fresh secrets unless it exists; returns whether it was written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{name}={value}\n" for name, value in demo_environment().items())
    # Readable by its owner only, and never half-written: created exclusively, then renamed.
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(partial, path)
    return True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m config.demo_env PATH")
    target = Path(sys.argv[1])
    if write_demo_env(target):
        print(f"Generated the demo's secret key and encryption key in {target}.")
