"""Named, per-key locks that survive a crash safely.

A lock is a file ``<dir>/<key>.lock`` held with ``flock``. The kernel releases a flock when
its holder's process dies, however it dies, so a lock left by a killed process is free again
at once (it is "recovered": the next holder logs whose it was). While held, the file names
the holder (pid, host, run id, start time); :meth:`Locks.holders` reads that for ``/status``
JSON, and ``napops_lock_held{key}`` / ``napops_lock_wait_seconds`` are exported.

flock locks belong to an open file description, so two holders in one process exclude each
other as well as two processes do. The directory must be on a filesystem every contender
shares (a volume of the sidecar; the CLI run in the same container).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram

from .errors import NapopsError

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class LockBusy(NapopsError):
    """The lock is held by someone else (and waiting was not allowed or timed out)."""

    def __init__(self, key: str, holder: dict[str, Any] | None):
        who = holder or {}
        desc = f"run {who.get('run_id', '?')} (pid {who.get('pid', '?')} on {who.get('host', '?')})"
        super().__init__(f"lock {key!r} is held by {desc}")
        self.key, self.holder = key, holder


@dataclass(frozen=True)
class Held:
    key: str
    run_id: str
    acquired_at: float
    waited_seconds: float
    recovered_from: dict[str, Any] | None  # a dead holder's record found in the file


class Locks:
    def __init__(
        self, directory: str | os.PathLike[str], registry: CollectorRegistry | None = None
    ):
        self.dir = Path(directory)
        self.held = (
            Gauge("napops_lock_held", "1 while the named lock is held.", ["key"], registry=registry)
            if registry is not None
            else None
        )
        self.wait = (
            Histogram(
                "napops_lock_wait_seconds",
                "Time spent waiting for a lock before holding it.",
                ["key"],
                buckets=(0.01, 0.1, 1, 5, 15, 60, 300, 900),
                registry=registry,
            )
            if registry is not None
            else None
        )

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise NapopsError(f"invalid lock key {key!r} (letters, digits, _ . - only)")
        return self.dir / f"{key}.lock"

    @contextmanager
    def hold(self, key: str, run_id: str, wait_seconds: float = 0) -> Iterator[Held]:
        """Hold ``key`` for the ``with`` block. ``wait_seconds`` 0 refuses at once when busy;
        a positive value polls that long. Raises LockBusy."""
        path = self.path(key)
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        started = time.monotonic()
        try:
            self._acquire(fd, key, path, wait_seconds)
            previous = _read(fd)
            if previous and previous.get("pid") is not None:
                log.warning(
                    "lock %s recovered from a holder that is gone (run %s, pid %s)",
                    key,
                    previous.get("run_id"),
                    previous.get("pid"),
                    extra={"event": "lock_recovered", "key": key, "stale": previous},
                )
            now = time.time()
            record = {
                "key": key,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "run_id": run_id,
                "since": now,
            }
            _write(fd, record)
            waited = time.monotonic() - started
            if self.wait is not None:
                self.wait.labels(key).observe(waited)
            if self.held is not None:
                self.held.labels(key).set(1)
            try:
                yield Held(key, run_id, now, waited, previous or None)
            finally:
                _write(fd, {})  # released cleanly: no holder to recover
                if self.held is not None:
                    self.held.labels(key).set(0)
        finally:
            os.close(fd)  # closing releases the flock

    def _acquire(self, fd: int, key: str, path: Path, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            if time.monotonic() >= deadline:
                raise LockBusy(key, _read_path(path))
            time.sleep(0.05)

    def holders(self) -> list[dict[str, Any]]:
        """Every lock held now, with its holder (for /status JSON)."""
        out: list[dict[str, Any]] = []
        if not self.dir.is_dir():
            return out
        for path in sorted(self.dir.glob("*.lock")):
            fd = os.open(path, os.O_RDONLY)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    continue  # nobody holds it
                except OSError:
                    pass
                record = _read(fd)
                out.append(record or {"key": path.stem})
            finally:
                os.close(fd)
        return out


def _read(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 65536)
    try:
        value = json.loads(data) if data.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _read_path(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text()) or None
    except (OSError, ValueError):
        return None


def _write(fd: int, record: dict[str, Any]) -> None:
    data = json.dumps(record).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)
