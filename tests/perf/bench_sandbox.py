"""Benchmark of the Salesforce sandbox: collections upsert throughput and per-call overhead.

Run from the project root: ``.venv/bin/python tests/perf/bench_sandbox.py``
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.salesforce_sandbox import start_sandbox, stop_sandbox  # noqa: E402

CALLS = 50
PER_CALL = 200
TINY_CALLS = 200


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start_sandbox(Path(tmp) / "state.sqlite3", Path(tmp) / "ca")
        try:
            sf = sandbox.client()
            tag = uuid.uuid4().hex[:8]
            durations = []
            for call in range(CALLS):
                # Half the calls insert new records, half update the ones inserted before.
                offset = (call % (CALLS // 2)) * PER_CALL
                records = [
                    {
                        "attributes": {"type": "Contact"},
                        "Concord_Id__c": f"{tag}-{offset + i}",
                        "FirstName": "Bench",
                        "LastName": f"Record {call}-{i}",
                        "Email": f"bench{offset + i}@{tag}.example.com",
                        "Title": "Engineer",
                    }
                    for i in range(PER_CALL)
                ]
                started = time.perf_counter()
                results = sf.restful(
                    "composite/sobjects/Contact/Concord_Id__c",
                    method="PATCH",
                    json={"allOrNone": False, "records": records},
                )
                durations.append(time.perf_counter() - started)
                assert all(r["success"] for r in results), results[:3]
            throughput = CALLS * PER_CALL / sum(durations)
            print(
                f"sandbox collections upsert: {throughput:.0f} records/s "
                f"({PER_CALL} per call, {CALLS} calls, median "
                f"{statistics.median(durations) * 1000:.1f} ms per call)"
            )
            tiny = []
            for _ in range(TINY_CALLS):
                started = time.perf_counter()
                sf.restful("limits/")
                tiny.append(time.perf_counter() - started)
            print(
                f"sandbox per-call overhead: {statistics.median(tiny) * 1000:.1f} ms median "
                f"(GET limits, {TINY_CALLS} calls)"
            )
        finally:
            stop_sandbox(sandbox)


if __name__ == "__main__":
    main()
