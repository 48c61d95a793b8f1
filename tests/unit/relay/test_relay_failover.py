"""Failure episodes survive a restart through the outbox's meta table (real SQLite)."""

from __future__ import annotations

from napops.relay.failover import STORE_KEY, ChannelFailover
from napops.relay.outbox import Outbox


def test_episode_survives_reopen_with_its_start_and_announcement(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    failover = ChannelFailover("UTC", threshold=60, store=box)
    failover.failed("email", 1000.0, "connection refused")
    failover.failed("email", 1030.0, "timed out")
    assert [(c, e.since) for c, e in failover.to_announce(1070.0)] == [("email", 1000.0)]
    box.close()

    box = Outbox(tmp_path / "o.sqlite3")
    again = ChannelFailover("UTC", threshold=60, store=box)
    assert again.channels_failing() == ["email"]
    assert again.notes_for("rocketchat", 1100.0) == [
        "email delivery failing since 00:16: timed out"
    ]
    assert again.to_announce(1100.0) == []  # announced before the restart
    assert again.failed("email", 1110.0, "timed out") == 3  # the same episode goes on
    ended = again.succeeded("email")
    assert ended is not None and ended.since == 1000.0
    box.close()

    box = Outbox(tmp_path / "o.sqlite3")
    assert ChannelFailover("UTC", 60, store=box).channels_failing() == []
    box.close()


def test_unreadable_state_starts_clean(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.set_meta(STORE_KEY, "{not json")
    assert ChannelFailover("UTC", 60, store=box).channels_failing() == []
    box.close()
