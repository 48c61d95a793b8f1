"""The relay's metrics (``napops_relay_*``), registered on the registry passed in.

This module is the only place that writes them: the rest of the relay reports events
(:meth:`RelayMetrics.delivered`, :meth:`RelayMetrics.refused`, ...). Queue depth and the
age of the oldest undelivered item are read from the outbox at scrape time, so they are right
after a restart too. Every channel's series exist from start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (1, 2.5, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1800, 3600)

REFUSALS = ("auth", "content_type", "payload", "too_large", "outbox_full", "channels")
"""Reasons a webhook post is refused (the ``reason`` label of napops_relay_rejected_total)."""

StatsFn = Callable[[], dict[str, tuple[int, float | None]]]


class _QueueCollector(Collector):
    def __init__(self, stats: StatsFn, channels: list[str], clock: Callable[[], float]):
        self.stats, self.channels, self.clock = stats, channels, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "napops_relay_queue_depth", "Deliveries waiting in the outbox.", labels=["channel"]
        )
        age = GaugeMetricFamily(
            "napops_relay_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered item (0 when none).",
            labels=["channel"],
        )
        stats, now = self.stats(), self.clock()
        for ch in self.channels:
            n, oldest = stats.get(ch, (0, None))
            depth.add_metric([ch], n)
            age.add_metric([ch], 0 if oldest is None else max(0.0, now - oldest))
        yield depth
        yield age


class RelayMetrics:
    """Counters, gauges and histograms of the relay, written through its event methods."""

    def __init__(self, registry: CollectorRegistry, channels: list[str]):
        r = registry
        self._received = Counter(
            "napops_relay_received", "Webhook posts accepted.", ["endpoint"], registry=r
        )
        self._rejected = Counter(
            "napops_relay_rejected", "Webhook posts refused, by reason.", ["reason"], registry=r
        )
        self._duplicates = Counter(
            "napops_relay_duplicates", "Notifications already stored (not sent again).", registry=r
        )
        self._delivered = Counter(
            "napops_relay_delivered", "Messages delivered, per channel.", ["channel"], registry=r
        )
        self._failed = Counter(
            "napops_relay_failed", "Failed delivery attempts, per channel.", ["channel"], registry=r
        )
        self._expired = Counter(
            "napops_relay_expired", "Deliveries given up as too old.", ["channel"], registry=r
        )
        self._latency = Histogram(
            "napops_relay_delivery_latency_seconds",
            "Delivery latency, from the alert's startsAt or from receipt by the relay.",
            ["channel", "since"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._last_success = Gauge(
            "napops_relay_last_success_timestamp_seconds",
            "When a channel last delivered a message.",
            ["channel"],
            registry=r,
        )
        self._channel_failing = Gauge(
            "napops_relay_channel_failing",
            "1 while a channel's latest attempt failed.",
            ["channel"],
            registry=r,
        )
        self._heartbeat = Gauge(
            "napops_relay_watchdog_last_heartbeat_timestamp_seconds",
            "When the last Watchdog heartbeat arrived (0: none yet).",
            registry=r,
        )
        self._pipeline_down = Gauge(
            "napops_relay_watchdog_pipeline_down",
            "1 while no Watchdog heartbeat arrived within the window.",
            registry=r,
        )
        for ch in channels:
            for metric in (self._delivered, self._failed, self._expired, self._channel_failing):
                metric.labels(ch)
            self._last_success.labels(ch)
            for since in ("starts_at", "receipt"):
                self._latency.labels(ch, since)
        for endpoint in ("alertmanager", "watchdog"):
            self._received.labels(endpoint)
        for reason in REFUSALS:
            self._rejected.labels(reason)

    def received(self, endpoint: str) -> None:
        self._received.labels(endpoint).inc()

    def refused(self, reason: str) -> None:
        self._rejected.labels(reason).inc()

    def duplicate(self) -> None:
        self._duplicates.inc()

    def delivered(
        self, channel: str, now: float, received_at: float, starts_at: float | None
    ) -> None:
        """A message went out on ``channel``: count it, its latency, and the channel works."""
        self._delivered.labels(channel).inc()
        self._last_success.labels(channel).set(now)
        self._channel_failing.labels(channel).set(0)
        self._latency.labels(channel, "receipt").observe(max(0.0, now - received_at))
        if starts_at is not None:
            self._latency.labels(channel, "starts_at").observe(max(0.0, now - starts_at))

    def failed(self, channel: str) -> None:
        """An attempt on ``channel`` failed: count it, and the channel is failing."""
        self._failed.labels(channel).inc()
        self._channel_failing.labels(channel).set(1)

    def still_failing(self, channel: str) -> None:
        """``channel`` was failing before a restart (its episode was kept)."""
        self._channel_failing.labels(channel).set(1)

    def expired(self, channel: str, count: int) -> None:
        self._expired.labels(channel).inc(count)

    def heartbeat(self, ts: float) -> None:
        self._heartbeat.set(ts)

    def pipeline(self, down: bool) -> None:
        self._pipeline_down.set(1 if down else 0)

    def watch_outbox(
        self,
        registry: CollectorRegistry,
        stats: StatsFn,
        channels: list[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Export queue depth and oldest age read from ``stats`` at each scrape."""
        registry.register(_QueueCollector(stats, channels, clock))
