"""`{% load times %}{{ value|short_time }}`: a time as the admin writes it, in the user's zone.

`short_time` is Django's `date:"j M H:i"` ("7 Dec 18:05") and `full_time` its
`date:"Y-m-d H:i:s T"` ("2026-12-07 18:05:31 CET"), written by f-strings instead of Django's
date formatting, which parses its format on every call: the sync health page's 50 errors ask
for 200 of them, and the sync error list for 100 (a tenth of either page's time). A test holds
them to Django's output in several time zones.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3

register = template.Library()


@register.filter
def short_time(value: dt.datetime | None) -> str:
    local = _local(value)
    return f"{local.day} {str(MONTHS_3[local.month]).title()} {local:%H:%M}" if local else ""


@register.filter
def full_time(value: dt.datetime | None) -> str:
    local = _local(value)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}" if local else ""


def _local(value: dt.datetime | None) -> dt.datetime | None:
    """The time in the current time zone; None for no time ("" or None, as templates pass)."""
    return timezone.localtime(value) if value else None
