"""Channel failover: which channels are failing, since when and why, and when to say so.

State with a lock; the time is always passed in. A failure episode starts at the first
failed attempt after a success and ends at the next success. An episode is *told* (the other
channels announce it, and carry a note on every message) once it has lasted ``threshold``
seconds with at least ``MIN_FAILURES`` failed attempts: one failed attempt that the next
retry repairs is no news. A told episode's end is announced too. With a ``store`` (the
outbox's meta table) episodes survive a restart: "failing since 10:02" keeps its 10:02, and
an episode already announced is not announced again.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from typing import Protocol

from .render import clock

MIN_FAILURES = 2
"""Failed attempts an episode needs before it is told (a single failure is not)."""


@dataclass
class Episode:
    since: float
    reason: str
    failures: int = 1
    announced: bool = False


class MetaStore(Protocol):
    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


STORE_KEY = "channel_health"


class ChannelFailover:
    """Tracks failure episodes per channel and decides which are worth telling."""

    def __init__(
        self, timezone: str = "UTC", threshold: float = 30, store: MetaStore | None = None
    ):
        self.timezone = timezone
        self.threshold = threshold
        self._lock = threading.Lock()
        self._store = store
        self._failing: dict[str, Episode] = self._load()

    def _load(self) -> dict[str, Episode]:
        raw = self._store.get_meta(STORE_KEY) if self._store else None
        if not raw:
            return {}
        try:
            return {ch: Episode(**ep) for ch, ep in json.loads(raw).items()}
        except (ValueError, TypeError):
            return {}  # unreadable: start clean; the next failure starts a new episode

    def _save(self) -> None:
        """Persist the episodes; called with the lock held, after each change."""
        if self._store is not None:
            state = {ch: asdict(ep) for ch, ep in self._failing.items()}
            self._store.set_meta(STORE_KEY, json.dumps(state, sort_keys=True))

    def _due(self, ep: Episode, now: float) -> bool:
        return ep.failures >= MIN_FAILURES and now - ep.since >= self.threshold

    def channels_failing(self) -> list[str]:
        with self._lock:
            return sorted(self._failing)

    def failed(self, channel: str, now: float, reason: str) -> int:
        """Record a failed attempt; returns the consecutive failures of the episode."""
        with self._lock:
            ep = self._failing.get(channel)
            if ep is None:
                self._failing[channel] = ep = Episode(now, reason)
            else:
                ep.failures += 1
                ep.reason = reason
            self._save()
            return ep.failures

    def succeeded(self, channel: str) -> Episode | None:
        """Record a success; returns the episode it ended (None when the channel was fine)."""
        with self._lock:
            ended = self._failing.pop(channel, None)
            if ended is not None:
                self._save()
            return ended

    def note(self, channel: str, ep: Episode) -> str:
        return f"{channel} delivery failing since {clock(ep.since, self.timezone)}: {ep.reason}"

    def notes_for(self, channel: str, now: float, about: str | None = None) -> list[str]:
        """Notes for a message on ``channel`` about *other* told episodes; a notice ``about``
        a channel gets no note on that channel (it says the same thing itself)."""
        with self._lock:
            return [
                self.note(ch, ep)
                for ch, ep in sorted(self._failing.items())
                if ch not in (channel, about) and self._due(ep, now)
            ]

    def to_announce(self, now: float) -> list[tuple[str, Episode]]:
        """(channel, episode) for episodes that just became worth telling; each once."""
        out = []
        with self._lock:
            for ch, ep in sorted(self._failing.items()):
                if not ep.announced and self._due(ep, now):
                    ep.announced = True
                    out.append((ch, Episode(**asdict(ep))))
            if out:
                self._save()
        return out

    def failing(self, channel: str) -> bool:
        with self._lock:
            return channel in self._failing
