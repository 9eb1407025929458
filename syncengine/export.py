"""CSV export of sync stages (dashboard and API share it), streamed through the CSV writer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from crm.csv_writer import csv_download, iter_csv
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


def _time(value, tz) -> str:
    return timezone.localtime(value, tz).strftime("%Y-%m-%d %H:%M:%S %Z") if value else ""


def iter_stages_csv(stages: Iterable[SyncStage]) -> Iterator[str]:
    """The header, then one line per stage, times in the time zone active now."""
    # Taken now: the rows are produced while the answer streams, after the request's time
    # zone has been reset.
    tz = timezone.get_current_timezone()
    return iter_csv(HEADER, (_row(st, tz) for st in stages))


def stages_csv_response(stages: QuerySet[SyncStage], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of the stages."""
    rows = stages.select_related("integration", "object_type").iterator(chunk_size=2000)
    return csv_download(iter_stages_csv(rows), filename=filename)


def _row(st: SyncStage, tz) -> list[object]:
    return [
        _time(st.started_at, tz),
        _time(st.ended_at, tz),
        st.integration.name,
        st.object_type.label_plural if st.object_type else "",
        st.remote_object,
        st.get_operation_display(),
        st.outcome_label,
        st.new,
        st.updated,
        st.deleted,
        st.failed,
        st.skipped,
        st.api_calls,
        st.message,
    ]
