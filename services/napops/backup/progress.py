"""Bytes progress of a backup run, from restic's ``--json`` status messages.

Items run in parallel, each streaming its parts into ``restic backup --stdin``; every status
message carries ``bytes_done`` of that one stream (and ``total_bytes``, which is 0 or missing
for a stream of unknown length). The run's figure is the bytes of the finished parts plus
those of the streams still going. Reports go out at most once per ``interval`` seconds (restic
writes up to 60 status lines a second), and always when a part finishes. Pure logic: the
report function and the clock come in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

Report = Callable[[int, "int | None"], None]


class ByteProgress:
    def __init__(
        self,
        report: Report | None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._report, self._interval, self._clock = report, interval, clock
        self._lock = threading.Lock()
        self._finished = 0
        self._going: dict[str, int] = {}
        self._last: float | None = None

    @property
    def done(self) -> int:
        with self._lock:
            return self._finished + sum(self._going.values())

    def status(self, stream: str, message: Mapping[str, Any]) -> None:
        """A restic status message of ``stream`` (one part of one item)."""
        with self._lock:
            self._going[stream] = int(message.get("bytes_done") or 0)
            due = self._last is None or self._clock() - self._last >= self._interval
        if due:
            self._emit()

    def finished(self, stream: str, processed: int) -> None:
        """The part ``stream`` is stored: restic's summary counted ``processed`` bytes."""
        with self._lock:
            self._going.pop(stream, None)
            self._finished += processed
        self._emit()

    def abandoned(self, stream: str) -> None:
        """The part failed: its bytes no longer count."""
        with self._lock:
            self._going.pop(stream, None)

    def _emit(self) -> None:
        if self._report is None:
            return
        with self._lock:
            self._last = self._clock()
            done = self._finished + sum(self._going.values())
        self._report(done, None)
