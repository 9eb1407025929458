"""The sandboxes as child processes: start one and read what it announces, stop it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def start_announcing(
    module: str, args: list[str], announcements: dict[str, str], timeout: float = 20
) -> tuple[subprocess.Popen, dict[str, str]]:
    """Start `python -m module args` and read its output until each announcement's pattern has
    matched (its first group is kept, by name); kill it and raise if one has not in time."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline and len(found) < len(announcements):
        line = process.stdout.readline()
        if not line:
            break
        for name, pattern in announcements.items():
            if match := re.search(pattern, line):
                found[name] = match.group(1)
    if len(found) < len(announcements):
        process.kill()
        raise RuntimeError(f"sandbox did not start: {process.stdout.read()}")
    return process, found


def stop_process(process: subprocess.Popen) -> None:
    """Stop a child process (SIGTERM, then SIGKILL after 10 s)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
