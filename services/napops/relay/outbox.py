"""The durable outbox: SQLite in WAL mode with ``synchronous=FULL``, so every commit is fsync'd.

A message is stored once with one delivery row per channel. Each channel's worker takes its
due rows, and marks them delivered or schedules a retry; a crash between a send and its mark
repeats that one send (at least once). The number of messages still undelivered on some
channel is bounded (:class:`OutboxFull`), and rows older than ``max_age`` are expired by
:meth:`Outbox.expire`, which returns what it expired so the caller can count and log it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OutboxFull

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  dedup_key TEXT,
  received_at REAL NOT NULL,
  starts_at REAL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_dedup ON messages(dedup_key, received_at);
CREATE TABLE IF NOT EXISTS deliveries (
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  channel TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at REAL NOT NULL,
  last_error TEXT,
  done_at REAL,
  PRIMARY KEY (message_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(channel, state, next_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Item:
    """One pending delivery of one message to one channel."""

    message_id: int
    channel: str
    kind: str
    body: dict[str, Any]
    attempts: int
    received_at: float
    starts_at: float | None


@dataclass(frozen=True)
class Stored:
    """Result of :meth:`Outbox.add`: the message id, and whether it was a duplicate."""

    message_id: int
    duplicate: bool


class Outbox:
    """Thread-safe access to the outbox database at ``state_dir/outbox.sqlite3``."""

    def __init__(self, path: str | Path, max_items: int = 10000, dedup_window: float = 600):
        self.path = Path(path)
        self.max_items = max_items
        self.dedup_window = dedup_window
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, fn: Any, *args: Any) -> Any:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(*args)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def add(
        self,
        kind: str,
        body: dict[str, Any],
        channels: list[str],
        now: float,
        dedup_key: str | None = None,
        starts_at: float | None = None,
        bounded: bool = True,
    ) -> Stored:
        """Store a message for ``channels`` and commit it durably before returning.

        A message whose ``dedup_key`` was stored within the dedup window is not stored again
        (``duplicate=True``). Raises OutboxFull when ``bounded`` and the outbox is full.
        """

        def run() -> Stored:
            if dedup_key is not None:
                row = self._db.execute(
                    "SELECT id FROM messages WHERE dedup_key=? AND received_at>=? LIMIT 1",
                    (dedup_key, now - self.dedup_window),
                ).fetchone()
                if row:
                    return Stored(int(row[0]), True)
            if bounded and self._undelivered() >= self.max_items:
                raise OutboxFull(f"outbox holds {self.max_items} undelivered messages")
            cur = self._db.execute(
                "INSERT INTO messages(kind, dedup_key, received_at, starts_at, body)"
                " VALUES (?,?,?,?,?)",
                (kind, dedup_key, now, starts_at, json.dumps(body, ensure_ascii=False)),
            )
            mid = int(cur.lastrowid or 0)
            self._db.executemany(
                "INSERT INTO deliveries(message_id, channel, next_at) VALUES (?,?,?)",
                [(mid, ch, now) for ch in channels],
            )
            return Stored(mid, False)

        stored: Stored = self._tx(run)
        return stored

    def _undelivered(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(DISTINCT message_id) FROM deliveries WHERE state='pending'"
        ).fetchone()
        return int(row[0])

    def due(self, channel: str, now: float, limit: int = 50) -> list[Item]:
        """Pending deliveries on ``channel`` whose retry time has come.

        Ordered by retry time, then arrival: a message that keeps failing (say, one the server
        refuses) goes to the back, so it cannot hold up the ones behind it.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT d.message_id, m.kind, m.body, d.attempts, m.received_at, m.starts_at"
                " FROM deliveries d JOIN messages m ON m.id = d.message_id"
                " WHERE d.channel=? AND d.state='pending' AND d.next_at<=?"
                " ORDER BY d.next_at, d.message_id LIMIT ?",
                (channel, now, limit),
            ).fetchall()
        return [Item(r[0], channel, r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    def next_due(self, channel: str) -> float | None:
        """When the next pending delivery on ``channel`` is due (None: nothing pending)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_at) FROM deliveries WHERE channel=? AND state='pending'",
                (channel,),
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def delivered(self, item: Item, now: float) -> None:
        """Mark ``item`` delivered (durably)."""
        self._tx(
            self._db.execute,
            "UPDATE deliveries SET state='delivered', done_at=?, attempts=attempts+1"
            " WHERE message_id=? AND channel=?",
            (now, item.message_id, item.channel),
        )

    def failed(self, item: Item, next_at: float, error: str) -> None:
        """Count a failed attempt of ``item`` and schedule its retry at ``next_at``."""
        self._tx(
            self._db.execute,
            "UPDATE deliveries SET attempts=attempts+1, next_at=?, last_error=?"
            " WHERE message_id=? AND channel=?",
            (next_at, error[:500], item.message_id, item.channel),
        )

    def expire(self, now: float, max_age: float) -> dict[str, int]:
        """Expire pending deliveries received more than ``max_age`` ago; counts per channel."""

        def run() -> dict[str, int]:
            rows = self._db.execute(
                "SELECT d.channel, COUNT(*) FROM deliveries d JOIN messages m"
                " ON m.id = d.message_id WHERE d.state='pending' AND m.received_at<?"
                " GROUP BY d.channel",
                (now - max_age,),
            ).fetchall()
            self._db.execute(
                "UPDATE deliveries SET state='expired', done_at=? WHERE state='pending'"
                " AND message_id IN (SELECT id FROM messages WHERE received_at<?)",
                (now, now - max_age),
            )
            return {ch: int(n) for ch, n in rows}

        counts: dict[str, int] = self._tx(run)
        return counts

    def prune(self, now: float, keep: float) -> int:
        """Delete finished messages older than ``keep`` seconds (never within the dedup window)."""
        cutoff = now - max(keep, self.dedup_window)
        cur = self._tx(
            self._db.execute,
            "DELETE FROM messages WHERE received_at<? AND id NOT IN"
            " (SELECT message_id FROM deliveries WHERE state='pending')",
            (cutoff,),
        )
        return int(cur.rowcount)

    def stats(self) -> dict[str, tuple[int, float | None]]:
        """Per channel: (pending deliveries, received_at of the oldest pending one)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT d.channel, COUNT(*), MIN(m.received_at) FROM deliveries d"
                " JOIN messages m ON m.id = d.message_id WHERE d.state='pending'"
                " GROUP BY d.channel"
            ).fetchall()
        return {ch: (int(n), oldest) for ch, n, oldest in rows}

    def count(self, state: str | None = None) -> int:
        """Delivery rows, all or in ``state`` (pending, delivered, expired)."""
        sql, args = "SELECT COUNT(*) FROM deliveries", tuple[str, ...]()
        if state:
            sql, args = sql + " WHERE state=?", (state,)
        with self._lock:
            return int(self._db.execute(sql, args).fetchone()[0])

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._tx(
            self._db.execute,
            "INSERT INTO meta(key, value) VALUES (?,?)"
            " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )
