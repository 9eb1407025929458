"""`short_time` and `full_time` (config/times.py) write what Django's `date` filter writes with
"j M H:i" and "Y-m-d H:i:s T", in the current time zone, summer and winter."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import timezone

MOMENTS = [
    dt.datetime(2027, 1, 15, 8, 0, 0, tzinfo=dt.UTC),
    dt.datetime(2027, 7, 3, 23, 5, 9, tzinfo=dt.UTC),  # the next day east of UTC
    dt.datetime(2027, 3, 28, 0, 59, 59, tzinfo=dt.UTC),  # Paris moves its clocks an hour later
]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Adelaide"]


def render(source: str, value) -> str:
    return Template("{% load times %}" + source).render(Context({"value": value}))


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("moment", MOMENTS)
def test_the_filters_write_what_djangos_date_filter_writes(zone, moment):
    with timezone.override(zone):
        assert render("{{ value|short_time }}", moment) == render(
            '{{ value|date:"j M H:i" }}', moment
        )
        assert render("{{ value|full_time }}", moment) == render(
            '{{ value|date:"Y-m-d H:i:s T" }}', moment
        )


def test_no_time_is_written_as_nothing_as_the_date_filter_does():
    for value in (None, ""):
        assert render("{{ value|short_time }}|{{ value|full_time }}", value) == "|"
        assert render('{{ value|date:"j M H:i" }}', value) == ""
