"""`make demo` ends on Ctrl-C with status 0: config.demo_run stops the process group it started
and reports the stop, instead of honcho's 130 that make prints as "Error 130"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A stand-in for honcho: says it is up, then exits 130 on SIGINT as honcho does (or 3 unasked).
CHILD = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGINT, lambda *a: sys.exit(130))\n"
    "print('up', flush=True)\n"
    "time.sleep(float(sys.argv[1]))\n"
    "sys.exit(3)\n"
)


def launch(seconds: float) -> subprocess.Popen:
    code = (
        "import sys; from config.demo_run import run; "
        f"sys.exit(run([sys.executable, '-c', {CHILD!r}, '{seconds}']))"
    )
    # A session of its own, like the terminal's foreground job that Ctrl-C signals.
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_ctrl_c_stops_the_processes_and_exits_zero():
    launcher = launch(120)
    assert launcher.stdout.readline().strip() == "up"

    os.killpg(launcher.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    out, _ = launcher.communicate(timeout=60)

    assert launcher.returncode == 0
    assert "Concord demo stopped." in out


def test_a_process_that_fails_on_its_own_keeps_its_status():
    launcher = launch(0)
    out, _ = launcher.communicate(timeout=60)

    assert launcher.returncode == 3
    assert "stopped" not in out
