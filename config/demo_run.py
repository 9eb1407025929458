"""``python -m config.demo_run`` — run the demo's processes (Procfile) until Ctrl-C, then exit 0.

honcho alone answers Ctrl-C with exit status 130, which `make` reports as "Error 130" although
stopping is how a demo ends. Here honcho runs in its own session, so the terminal's SIGINT reaches
this process only; it is passed on once, honcho stops every process, and a stop asked for by the
user is a success.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence

# honcho's own exit statuses when it was told to stop (SIGINT, SIGTERM).
STOPPED = {130, 143}


def run(command: Sequence[str]) -> int:
    """Run the command in a session of its own; pass SIGINT and SIGTERM on once."""
    child = subprocess.Popen(list(command), start_new_session=True)
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    returncode = child.wait()
    if stopping and (returncode == 0 or returncode in STOPPED):
        print("\n  Concord demo stopped.", flush=True)
        return 0
    return returncode


if __name__ == "__main__":
    sys.exit(run([sys.executable, "-m", "honcho", "start", "--procfile", "Procfile"]))
