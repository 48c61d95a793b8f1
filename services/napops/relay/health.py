"""Which channels are failing, since when and why: the source of failover notes.

Pure state with a lock; the time is always passed in. A failure episode starts at the first
failed attempt after a success and ends at the next success.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .render import clock


@dataclass
class Episode:
    since: float
    reason: str
    failures: int = 1
    announced: bool = False


class ChannelHealth:
    """Tracks failure episodes per channel."""

    def __init__(self, timezone: str = "UTC", threshold: float = 120):
        self.timezone = timezone
        self.threshold = threshold
        self._lock = threading.Lock()
        self._failing: dict[str, Episode] = {}

    def failed(self, channel: str, now: float, reason: str) -> int:
        """Record a failed attempt; returns the consecutive failures of the episode."""
        with self._lock:
            ep = self._failing.get(channel)
            if ep is None:
                self._failing[channel] = ep = Episode(now, reason)
            else:
                ep.failures += 1
                ep.reason = reason
            return ep.failures

    def succeeded(self, channel: str) -> Episode | None:
        """Record a success; returns the episode it ended (None when the channel was fine)."""
        with self._lock:
            return self._failing.pop(channel, None)

    def note(self, channel: str, ep: Episode) -> str:
        return f"{channel} delivery failing since {clock(ep.since, self.timezone)}: {ep.reason}"

    def notes_for(self, channel: str, now: float) -> list[str]:
        """Notes for a message on ``channel`` about *other* channels failing past the threshold."""
        with self._lock:
            return [
                self.note(ch, ep)
                for ch, ep in sorted(self._failing.items())
                if ch != channel and now - ep.since >= self.threshold
            ]

    def to_announce(self, now: float) -> list[tuple[str, str]]:
        """(channel, note) for episodes that just passed the threshold; each is returned once."""
        out = []
        with self._lock:
            for ch, ep in sorted(self._failing.items()):
                if not ep.announced and now - ep.since >= self.threshold:
                    ep.announced = True
                    out.append((ch, self.note(ch, ep)))
        return out

    def failing(self, channel: str) -> bool:
        with self._lock:
            return channel in self._failing
