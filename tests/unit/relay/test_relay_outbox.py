"""The SQLite outbox: durable adds, duplicates, bounds, retries, expiry, pruning."""

from __future__ import annotations

import sqlite3

import pytest

from napops.relay.errors import OutboxFull
from napops.relay.outbox import Outbox


@pytest.fixture
def box(tmp_path):
    b = Outbox(tmp_path / "o.sqlite3", max_items=3, dedup_window=60)
    yield b
    b.close()


def test_settings_make_commits_durable(box):
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_add_then_due_per_channel_and_survives_reopen(tmp_path, box):
    stored = box.add("alert", {"x": "ไทย"}, ["email", "rocketchat"], now=100, dedup_key="k")
    assert not stored.duplicate
    box.close()
    again = Outbox(tmp_path / "o.sqlite3")
    [item] = again.due("email", now=100)
    assert item.body == {"x": "ไทย"} and item.received_at == 100
    assert len(again.due("rocketchat", now=100)) == 1
    again.close()


def test_duplicates_within_window_only(box):
    first = box.add("alert", {}, ["email"], now=100, dedup_key="k")
    assert box.add("alert", {}, ["email"], now=150, dedup_key="k") == type(first)(
        first.message_id, True
    )
    assert not box.add("alert", {}, ["email"], now=200, dedup_key="k").duplicate


def test_bounded_but_notices_always_fit(box):
    for i in range(3):
        box.add("alert", {}, ["email"], now=100, dedup_key=str(i))
    with pytest.raises(OutboxFull):
        box.add("alert", {}, ["email"], now=100, dedup_key="4")
    box.add("notice", {"title": "t"}, ["email"], now=100, bounded=False)
    for item in box.due("email", now=100)[:2]:
        box.delivered(item, now=101)
    box.add("alert", {}, ["email"], now=102, dedup_key="5")  # room again (notices count too)


def test_failed_schedules_retry(box):
    box.add("alert", {}, ["email"], now=100)
    [item] = box.due("email", now=100)
    box.failed(item, next_at=110, error="boom")
    assert box.due("email", now=105) == []
    assert box.next_due("email") == 110
    [retry] = box.due("email", now=110)
    assert retry.attempts == 1


def test_expire_counts_per_channel_and_prune_keeps_pending(box):
    box.add("alert", {}, ["email", "rocketchat"], now=0)
    box.add("alert", {}, ["email"], now=90, dedup_key="b")
    assert box.expire(now=100, max_age=50) == {"email": 1, "rocketchat": 1}
    assert box.stats() == {"email": (1, 90)}
    assert box.prune(now=1000, keep=0) == 1  # the expired one; the pending one stays
    assert box.count("pending") == 1


def test_meta(box):
    assert box.get_meta("a") is None
    box.set_meta("a", "1")
    box.set_meta("a", "2")
    assert box.get_meta("a") == "2"


def test_rollback_leaves_nothing(box, monkeypatch):
    def boom(*_a):
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError):
        box._tx(boom)
    assert box.count() == 0
