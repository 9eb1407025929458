"""Python's cyclic garbage collector paused for one bounded batch of bulk work.

A bulk write holds tens of thousands of small containers at once: a batch's rows, its records'
properties, their audit entries. The collector runs after every 700 new containers, and as
they survive, its older generations are scanned again and again; in a restore of 100,000
records that was 40 % of the time. Paused for one batch (a few thousand records, so memory
stays bounded) nothing is lost: reference counting still frees whatever is not in a cycle,
and the collector runs again as usual once the batch is done.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block, unless something around it already has."""
    if not gc.isenabled():  # an enclosing batch (or the process) paused it: leave it so
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
