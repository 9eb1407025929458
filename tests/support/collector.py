"""Whether Python's cyclic garbage collector runs while a function is called (crm.gc_pause)."""

from __future__ import annotations

import functools
import gc


def collector_states(monkeypatch, owner, name: str) -> list[bool]:
    """Wrap `owner.name` for the test; returns the list of `gc.isenabled()` at each call."""
    states: list[bool] = []
    real = getattr(owner, name)

    @functools.wraps(real)
    def watching(*args, **kwargs):
        states.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, watching)
    return states
