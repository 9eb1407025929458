"""Content negotiation for downloads: a CSV export or a ZIP answers `Accept` with its own type.

A download's body is a Django (streaming) response the view builds itself, so these renderers
never render a success; they exist so that DRF's negotiation accepts `text/csv`,
`application/zip` and `*/*` for the actions that produce them instead of answering 406. Error
answers of those actions (a bad filter, an expired backup) are JSON whatever was accepted: a
client asking for a file must still be able to read why it did not get one.
"""

from __future__ import annotations

import json

from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from crm.csv_writer import CSV_MEDIA_TYPE

ZIP_MEDIA_TYPE = "application/zip"


class FileRenderer(BaseRenderer):
    """Accepts a file's media type in negotiation; the view streams the file itself."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        return json.dumps(data).encode()


class CsvRenderer(FileRenderer):
    media_type = CSV_MEDIA_TYPE
    format = "csv"
    charset = "utf-8"


class ZipRenderer(FileRenderer):
    media_type = ZIP_MEDIA_TYPE
    format = "zip"
    charset = None


CSV_DOWNLOAD_RENDERERS = [JSONRenderer, CsvRenderer]
ZIP_DOWNLOAD_RENDERERS = [JSONRenderer, ZipRenderer]


class DownloadNegotiationMixin:
    """For views with download actions: their error answers are rendered as JSON."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and isinstance(
            getattr(request, "accepted_renderer", None), FileRenderer
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
