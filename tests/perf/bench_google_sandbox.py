"""Benchmark of the Google People API sandbox: batchCreateContacts and a full connections sync.

Run from the project root: ``.venv/bin/python tests/perf/bench_google_sandbox.py``
Both go through the real google-api-python-client, as the connector will.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.google_sandbox import QUOTAS_OFF, settle, start_sandbox, stop_sandbox  # noqa: E402

CALLS = 50
PER_CALL = 200  # the API's batch maximum
PAGE_SIZE = 1000  # the API's page maximum


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start_sandbox(Path(tmp) / "state.sqlite3")
        try:
            sandbox.ok("PATCH", "quotas", json=QUOTAS_OFF)  # measure the server, not the quota
            people = sandbox.service_for_token(sandbox.mint_token()["access_token"])
            durations = []
            for call in range(CALLS):
                contacts = [
                    {
                        "contactPerson": {
                            "names": [{"givenName": "Bench", "familyName": f"{call}-{i}"}],
                            "emailAddresses": [{"value": f"bench{call}-{i}@example.com"}],
                            "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "mobile"}],
                            "organizations": [{"name": "Bench Ltd", "title": "Engineer"}],
                        }
                    }
                    for i in range(PER_CALL)
                ]
                started = time.perf_counter()
                answer = (
                    people.people()
                    .batchCreateContacts(body={"contacts": contacts, "readMask": "names"})
                    .execute()
                )
                durations.append(time.perf_counter() - started)
                assert len(answer["createdPeople"]) == PER_CALL
            total = CALLS * PER_CALL
            print(
                f"google sandbox batchCreateContacts: {total / sum(durations):.0f} contacts/s "
                f"({PER_CALL} per call, {CALLS} calls, median "
                f"{statistics.median(durations) * 1000:.1f} ms per call)"
            )
            settle(sandbox)  # the writes reach sync answers after the propagation delay
            connections = people.people().connections()
            request = connections.list(
                resourceName="people/me",
                personFields="names,emailAddresses,phoneNumbers,organizations,metadata",
                pageSize=PAGE_SIZE,
                requestSyncToken=True,
            )
            started = time.perf_counter()
            seen = pages = 0
            while request is not None:
                page = request.execute()
                pages += 1
                seen += len(page.get("connections", []))
                request = connections.list_next(request, page)
            elapsed = time.perf_counter() - started
            assert seen == total and page.get("nextSyncToken")
            print(
                f"google sandbox full connections.list sync: {seen / elapsed:.0f} contacts/s "
                f"({seen} contacts, {pages} pages of {PAGE_SIZE}, {elapsed:.2f} s)"
            )
        finally:
            stop_sandbox(sandbox)


if __name__ == "__main__":
    main()
