"""`make bench`: run every tests/perf/bench_*.py in its own process and print its figures.

Each benchmark prints one figure a line ("name: value unit (detail)"). Benchmarks that need
PostgreSQL or Redis read DATABASE_URL / REDIS_URL and say so on a line when they are missing.
Timings are medians and ratios, never pass/fail: the machines are shared and noisy.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem in wanted)
    failed = []
    for script in scripts:
        print(f"# {script.stem}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], cwd=ROOT)
        if result.returncode != 0:
            failed.append(script.stem)
            print(f"{script.stem}: FAILED (exit {result.returncode})", flush=True)
        print(f"# {script.stem} took {time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
