"""What the deploy sidecar keeps across restarts, in one SQLite file under ``state_dir``.

- deliveries: Gitea delivery ids already accepted (a replay is dropped), the newest
  ``keep`` of them.
- deployments: every deployment as a JSON document (state, steps, reason, images).
- live: per service and environment, the image and container that serve now and the image
  the last deploy asked for (an alert compares them).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ACTIVE = ("queued", "running")
FINAL = ("succeeded", "failed", "rolled_back", "refused", "ignored")


@dataclass
class Deployment:
    id: str
    service: str
    environment: str
    image: str
    trigger: str  # webhook, cli, rollback
    state: str = "queued"
    reason: str | None = None
    previous_image: str | None = None
    delivery: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        return cls(**data)


def new_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


class State:
    """Opened on first use, so building the sidecar (e.g. --check-config) writes nothing."""

    def __init__(self, path: str | Path, keep_deliveries: int = 10000):
        self.path = Path(path)
        self.keep = keep_deliveries
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    @property
    def _db(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    str(self.path), check_same_thread=False, isolation_level=None
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(
                    """
                    CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, seen REAL);
                    CREATE TABLE IF NOT EXISTS deployments (
                        id TEXT PRIMARY KEY, service TEXT, environment TEXT, state TEXT,
                        created REAL, doc TEXT);
                    CREATE INDEX IF NOT EXISTS deployments_created ON deployments (created);
                    CREATE TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY, doc TEXT);
                    """
                )
                self._conn = conn
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- deliveries ----------------------------------------------------------------------------
    def first_delivery(self, delivery: str) -> bool:
        """Record ``delivery``; False when it was seen before (a replay)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (id, seen) VALUES (?, ?)", (delivery, time.time())
            )
            if cur.rowcount == 0:
                return False
            self._db.execute(
                "DELETE FROM deliveries WHERE id NOT IN "
                "(SELECT id FROM deliveries ORDER BY seen DESC LIMIT ?)",
                (self.keep,),
            )
            return True

    # -- deployments ---------------------------------------------------------------------------
    def save(self, dep: Deployment) -> None:
        doc = json.dumps(dep.as_dict())
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO deployments (id, service, environment, state, created, doc)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (dep.id, dep.service, dep.environment, dep.state, dep.created, doc),
            )

    def get(self, dep_id: str) -> Deployment | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM deployments WHERE id = ?", (dep_id,)).fetchone()
        return Deployment.from_dict(json.loads(row[0])) if row else None

    def recent(self, limit: int = 50, service: str | None = None) -> list[Deployment]:
        sql, args = "SELECT doc FROM deployments", []
        if service:
            sql += " WHERE service = ?"
            args.append(service)
        sql += " ORDER BY created DESC LIMIT ?"
        args.append(str(limit))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Deployment.from_dict(json.loads(r[0])) for r in rows]

    def active(self) -> list[Deployment]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM deployments WHERE state IN (?, ?) ORDER BY created", ACTIVE
            ).fetchall()
        return [Deployment.from_dict(json.loads(r[0])) for r in rows]

    # -- live ----------------------------------------------------------------------------------
    def set_live(self, service: str, environment: str, **fields: Any) -> None:
        key = f"{service}@{environment}"
        with self._lock:
            row = self._db.execute("SELECT doc FROM live WHERE key = ?", (key,)).fetchone()
            doc = json.loads(row[0]) if row else {"service": service, "environment": environment}
            doc.update(fields)
            self._db.execute(
                "INSERT OR REPLACE INTO live (key, doc) VALUES (?, ?)", (key, json.dumps(doc))
            )

    def live(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM live ORDER BY key").fetchall()
        return [json.loads(r[0]) for r in rows]

    def live_of(self, service: str, environment: str) -> dict[str, Any]:
        for doc in self.live():
            if doc["service"] == service and doc["environment"] == environment:
                return doc
        return {}
