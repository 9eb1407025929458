"""CSV export of sync stages (dashboard and API share it)."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.utils import timezone

from syncengine.models import SyncStage

HEADER = [
    "Start",
    "End",
    "Integration",
    "Object type",
    "Remote object",
    "Operation",
    "Status",
    "New",
    "Updated",
    "Deleted",
    "Failed",
    "Skipped",
    "API calls",
    "Message",
]


def _time(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z") if value else ""


def stages_csv(stages: Iterable[SyncStage], out) -> None:
    """Write stages as CSV to a file-like `out`, times in the active time zone."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for st in stages:
        writer.writerow(
            [
                _time(st.started_at),
                _time(st.ended_at),
                st.integration.name,
                st.object_type.label_plural if st.object_type else "",
                st.remote_object,
                st.get_operation_display(),
                st.get_status_display(),
                st.new,
                st.updated,
                st.deleted,
                st.failed,
                st.skipped,
                st.api_calls,
                st.message,
            ]
        )
