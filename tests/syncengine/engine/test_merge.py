"""The pure per-field merge (syncengine.engine.merge), on its own: no database, no remote."""

from __future__ import annotations

import datetime as dt

import pytest

from syncengine.engine.merge import field_winner, reference_winner, unchanged

T0 = dt.datetime(2024, 1, 15, 10, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(minutes=5)


def winner(remote, agreed, local, rule="two_way", **kwargs):
    return field_winner(remote=remote, agreed=agreed, local=local, rule=rule, **kwargs)


def test_equal_values_need_nothing():
    assert winner("CEO", "CTO", "CEO") is None
    assert winner(None, "CTO", None) is None


def test_the_side_that_changed_since_last_agreed_wins():
    assert winner("CEO", "CTO", "CTO") == "remote"
    assert winner("CTO", "CTO", "CEO") == "local"
    # A value cleared on one side is a change like any other
    assert winner(None, "CTO", "CTO") == "remote"
    assert winner("CTO", "CTO", None) == "local"


@pytest.mark.parametrize(
    ("rule", "remote", "local", "expected"),
    [
        ("always_remote", "CEO", "CFO", "remote"),
        ("always_remote", None, "CFO", "remote"),
        ("always_concord", "CEO", "CFO", "local"),
        ("prefer_remote_unless_blank", "CEO", "CFO", "remote"),
        ("prefer_remote_unless_blank", None, "CFO", "local"),
    ],
)
def test_the_rule_decides_before_the_changes(rule, remote, local, expected):
    # Only Concord changed (agreed == remote), yet the rule decides
    assert winner(remote, remote, local, rule=rule) == expected
    # Only the remote changed (agreed == local)
    assert winner(remote, local, local, rule=rule) == expected


def test_both_changed_the_chosen_app_wins_unless_blank():
    assert winner("CEO", "CTO", "CFO", conflict_winner="local") == "local"
    assert winner("CEO", "CTO", "CFO", conflict_winner="remote") == "remote"
    # The chosen app has no value: nothing is cleared (SPEC G-2)
    assert winner(None, "CTO", "CFO", conflict_winner="remote") == "local"
    assert winner("CEO", "CTO", None, conflict_winner="local") == "remote"


def test_both_changed_the_newer_change_wins():
    def at(when):
        return lambda: when

    assert winner("CEO", "CTO", "CFO", remote_stamp=T0, local_changed_at=at(LATER)) == "local"
    assert winner("CEO", "CTO", "CFO", remote_stamp=LATER, local_changed_at=at(T0)) == "remote"
    # A tie or an unknown Concord change time goes to the remote
    assert winner("CEO", "CTO", "CFO", remote_stamp=T0, local_changed_at=at(T0)) == "remote"
    assert winner("CEO", "CTO", "CFO", remote_stamp=T0) == "remote"


def test_first_match_with_different_values_is_a_conflict():
    # Matched on the first sync: nothing agreed yet, both sides hold values
    assert winner("CEO", None, "CFO", conflict_winner="local") == "local"
    assert winner("CEO", None, "CFO", conflict_winner="remote") == "remote"


def test_the_concord_change_time_is_asked_for_only_in_a_conflict():
    asked = []

    def changed_at():
        asked.append(1)
        return LATER

    winner("CEO", "CTO", "CTO", remote_stamp=T0, local_changed_at=changed_at)
    winner("CEO", "CEO", "CTO", remote_stamp=T0, local_changed_at=changed_at)
    assert asked == []
    winner("CEO", "CTO", "CFO", remote_stamp=T0, local_changed_at=changed_at)
    assert asked == [1]


def test_references_follow_the_side_that_changed():
    assert reference_winner(remote="001B", agreed="001A", local="001A", always_local=False) == (
        "remote"
    )
    assert reference_winner(remote="001A", agreed="001A", local="001C", always_local=False) == (
        "local"
    )
    # Both changed: the remote's pointer wins, unless Concord's always does
    assert reference_winner(remote="001B", agreed="001A", local="001C", always_local=False) == (
        "remote"
    )
    assert reference_winner(remote="001B", agreed="001A", local="001A", always_local=True) == (
        "local"
    )


def test_unchanged_needs_every_pulled_field_agreed():
    assert unchanged({"Title": "CEO"}, {"Title": "CEO", "Email": "a@x.io"})
    assert not unchanged({"Title": "CEO"}, {"Title": "CTO"})
    assert not unchanged({"Title": "CEO", "Phone": None}, {"Title": "CEO"})
    assert not unchanged({"Title": "CEO"}, {})
