"""The relay's moving parts put together: accept, route, store, deliver, watch.

:class:`Relay` owns the outbox, one :class:`~.dispatcher.Worker` per channel, the health
tracker and the dead man's switch, and a ticker thread that expires old items, prunes
finished ones and announces failing channels. Collaborators come in through the constructor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prometheus_client import CollectorRegistry

from ..core.audit import AuditTrail
from ..core.errors import NapopsError
from .channels import Channel
from .dispatcher import Retry, Worker
from .health import ChannelHealth, Episode
from .metrics import RelayMetrics
from .outbox import Outbox, Stored
from .payload import dedup_key, earliest_start
from .render import Options, clock
from .routing import decide
from .watchdog import Watchdog

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0


def _timezone(name: str) -> str:
    """``name`` if this system knows it, else UTC (a missing tzdata must not stop delivery)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using UTC", name, extra={"event": "bad_timezone"})
        return "UTC"
    return name


class Relay:
    def __init__(
        self,
        section: dict[str, Any],
        outbox: Outbox,
        channels: dict[str, Channel],
        registry: CollectorRegistry,
        clock_fn: Callable[[], float] = time.time,
        audit: AuditTrail | None = None,
    ):
        self.section, self.outbox, self.channels, self.clock = section, outbox, channels, clock_fn
        self.audit = audit
        names = list(channels)
        self.metrics = RelayMetrics(registry, names)
        self.metrics.watch_outbox(registry, outbox.stats, names, clock_fn)
        tz = _timezone(section["timezone"])
        self.health = ChannelHealth(tz, section["failing_note_after_seconds"], store=outbox)
        for channel in self.health.channels_failing():  # an episode from before a restart
            if channel in names:
                self.metrics.channel_failing.labels(channel).set(1)
        self.options = Options(tuple(section["subject_labels"]), tz, section.get("grafana_url"))
        retry = Retry(**section["retry"])
        self.workers = {
            n: Worker(ch, outbox, self.health, self.metrics, self.options, retry, clock_fn)
            for n, ch in channels.items()
        }
        for worker in self.workers.values():
            worker.on_recovery = self._recovered
        wd = section["watchdog"]
        self.watchdog: Watchdog | None = None
        if wd["enabled"]:
            self.watchdog = Watchdog(
                self.notify, outbox, self.metrics, wd["window_seconds"], clock_fn(), tz
            )
        self.tick_seconds = min(wd["check_seconds"], 5.0)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="relay-ticker", daemon=True)
        self._last_prune = 0.0

    def accept(self, data: dict[str, Any], hint: list[str] | None) -> Stored:
        """Route and durably store one webhook group. Raises NoChannel, OutboxFull."""
        decision = decide(data, hint, self.section, list(self.channels))
        body = {"webhook": data, "email_to": decision.email_to, "email_from": decision.email_from}
        stored = self.outbox.add(
            "alert", body, decision.channels, self.clock(), dedup_key(data), earliest_start(data)
        )
        if not stored.duplicate:
            self._wake(decision.channels)
        return stored

    def notify(
        self, title: str, text: str, severity: str, status: str, exclude: tuple[str, ...] = ()
    ) -> None:
        """Queue a notice from the relay itself on every channel but ``exclude``."""
        targets = [c for c in self.channels if c not in exclude]
        if not targets:
            return
        body = {"title": title, "text": text, "severity": severity, "status": status}
        self.outbox.add("notice", body, targets, self.clock(), bounded=False)
        self._audit("relay.notice", {"title": title, "channels": targets})
        self._wake(targets)

    def _wake(self, channels: list[str]) -> None:
        for name in channels:
            self.workers[name].wake.set()

    def _recovered(self, channel: str, episode: Episode) -> None:
        if not episode.announced:
            return  # nobody was told it failed; a short blip needs no all-clear
        tz = self.health.timezone
        self.notify(
            f"{channel} delivery recovered",
            f"{channel} delivery works again at {clock(self.clock(), tz)} (failing since "
            f"{clock(episode.since, tz)}: {episode.reason}). Delayed messages are being sent.",
            "info",
            "resolved",
            exclude=(channel,),
        )

    def housekeep(self, now: float) -> None:
        """Expire too-old items, prune finished ones, announce long failures, check Watchdog."""
        outbox = self.section["outbox"]
        for channel, count in self.outbox.expire(now, outbox["max_age_seconds"]).items():
            self.metrics.expired.labels(channel).inc(count)
            log.error(
                "expired %d undelivered %s deliveries older than %gs",
                count,
                channel,
                outbox["max_age_seconds"],
                extra={"event": "expired", "channel": channel, "count": count},
            )
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._last_prune = now
            self.outbox.prune(now, outbox["keep_delivered_seconds"])
        for channel, note in self.health.to_announce(now):
            log.warning(note, extra={"event": "channel_failing", "channel": channel})
            self.notify(
                note,
                "Messages for it are kept and retried.",
                "warning",
                "firing",
                exclude=(channel,),
            )
        if self.watchdog is not None:
            self.watchdog.check(now)

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.housekeep(self.clock())
            except Exception:  # noqa: BLE001 - housekeeping must keep running
                log.exception("relay housekeeping failed")

    def _audit(self, action: str, data: dict[str, Any]) -> None:
        if self.audit is None:
            return
        try:
            self.audit.append(action, data)
        except NapopsError as exc:
            log.warning("cannot write audit record: %s", exc, extra={"event": "audit_failed"})

    def start(self) -> None:
        if not self.channels:
            log.warning("no channel is configured", extra={"event": "no_channels"})
        for worker in self.workers.values():
            worker.start()
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        for worker in self.workers.values():
            worker.stop()
        if self._ticker.ident is not None:  # started
            self._ticker.join(5)
        for name, channel in self.channels.items():
            if not self.workers[name].thread.is_alive():  # a stuck worker may still use it
                channel.close()
