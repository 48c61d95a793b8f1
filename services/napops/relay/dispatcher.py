"""Delivery: one worker thread per channel, so a failing channel never blocks the others.

Each worker sends its channel's due deliveries oldest first. After a failure the channel
backs off (exponential, with jitter) before it tries again, and the health tracker turns
long failures into notes on the other channels. Messages are rendered at send time, so a
note about another channel failing is current when it goes out.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .channels import Channel
from .errors import ChannelError
from .health import ChannelHealth
from .metrics import RelayMetrics
from .outbox import Item, Outbox
from .render import Options, render

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Retry:
    initial_seconds: float = 5
    max_seconds: float = 300
    multiplier: float = 2
    jitter: float = 0.2


def backoff(failures: int, retry: Retry, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure (>= 1), jittered ±jitter."""
    base = min(retry.max_seconds, retry.initial_seconds * retry.multiplier ** (failures - 1))
    return float(min(retry.max_seconds, base * (1 - retry.jitter + 2 * retry.jitter * rand())))


class Worker:
    """Delivers one channel's queue until :meth:`stop`."""

    def __init__(
        self,
        channel: Channel,
        outbox: Outbox,
        health: ChannelHealth,
        metrics: RelayMetrics,
        options: Options,
        retry: Retry,
        clock: Callable[[], float] = time.time,
    ):
        self.channel, self.outbox, self.health = channel, outbox, health
        self.metrics, self.options, self.retry, self.clock = metrics, options, retry, clock
        self.on_recovery: Callable[[str, Any], None] | None = None
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._blocked_until = 0.0
        self.thread = threading.Thread(target=self._run, name=f"relay-{channel.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self.wake.set()
        if self.thread.ident is not None:  # started
            self.thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.wake.clear()
                self.wake.wait(self.step())
            except Exception:  # noqa: BLE001 - the worker must outlive any bug or DB hiccup
                log.exception("delivery worker %s failed", self.channel.name)
                self._stop.wait(1)

    def step(self) -> float:
        """Send what is due; return how long to wait before the next step."""
        now = self.clock()
        if now < self._blocked_until:
            return self._blocked_until - now
        for item in self.outbox.due(self.channel.name, now):
            if self._stop.is_set() or not self.attempt(item):
                return max(0.0, self._blocked_until - self.clock())
        nxt = self.outbox.next_due(self.channel.name)
        if nxt is None:
            return IDLE_POLL_SECONDS
        return max(0.0, min(IDLE_POLL_SECONDS, nxt - self.clock()))

    def attempt(self, item: Item) -> bool:
        """Send one item; True when delivered. Failures are recorded, never raised."""
        name = self.channel.name
        try:
            notes = self.health.notes_for(name, self.clock())
            self.channel.send(render(item.kind, item.body, notes, self.options), item.body)
        except ChannelError as exc:
            self._failed(item, str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - a rendering bug must not stop the queue
            log.exception("cannot deliver message %s on %s", item.message_id, name)
            self._failed(item, f"internal error: {type(exc).__name__}")
            return False
        self._delivered(item)
        return True

    def _delivered(self, item: Item) -> None:
        now, name = self.clock(), self.channel.name
        self.outbox.delivered(item, now)
        self.metrics.delivered.labels(name).inc()
        self.metrics.last_success.labels(name).set(now)
        self.metrics.channel_failing.labels(name).set(0)
        self.metrics.latency.labels(name, "receipt").observe(max(0.0, now - item.received_at))
        if item.starts_at is not None:
            self.metrics.latency.labels(name, "starts_at").observe(max(0.0, now - item.starts_at))
        log.info(
            "delivered message %s on %s",
            item.message_id,
            name,
            extra={"event": "delivered", "message_id": item.message_id, "channel": name},
        )
        ended = self.health.succeeded(name)
        if ended is not None and self.on_recovery is not None:
            self.on_recovery(name, ended)

    def _failed(self, item: Item, reason: str) -> None:
        now, name = self.clock(), self.channel.name
        failures = self.health.failed(name, now, reason)
        delay = backoff(failures, self.retry)
        self._blocked_until = now + delay
        self.outbox.failed(item, now + delay, reason)
        self.metrics.failed.labels(name).inc()
        self.metrics.channel_failing.labels(name).set(1)
        log.warning(
            "delivery of message %s on %s failed (%s); retry in %.1fs",
            item.message_id,
            name,
            reason,
            delay,
            extra={"event": "delivery_failed", "message_id": item.message_id, "channel": name},
        )
