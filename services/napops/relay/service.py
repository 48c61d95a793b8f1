"""The relay's moving parts put together: accept, route, store, deliver, watch.

:class:`Relay` is what the HTTP layer talks to: it parses and stores Alertmanager posts,
takes heartbeats, and counts and logs what it accepts and refuses. It owns the outbox, one
:class:`~.dispatcher.Worker` per channel, the channel failover tracker, the dead man's switch
and a ticker thread (started by :meth:`start`, an ``on_start`` hook) that announces failing
channels and checks the Watchdog window every few seconds. Expiring and pruning the outbox is
a core job (:meth:`Relay.maintain_outbox`, every minute, and on demand from the CLI or HTTP).
Collaborators and callbacks come in through the constructors.
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
from ..core.jobs import RunContext
from .channels import Channel
from .dispatcher import Retry, Worker
from .errors import NoChannel, OutboxFull, PayloadError, RelayError
from .failover import ChannelFailover, Episode
from .metrics import RelayMetrics
from .outbox import Outbox, Stored
from .payload import dedup_key, earliest_start, parse
from .render import Options, clock
from .routing import decide, parse_hint
from .watchdog import Watchdog

log = logging.getLogger(__name__)

MAINTENANCE_SCHEDULE = "* * * * *"
"""When the outbox-maintenance job runs (cron, every minute)."""

REFUSAL_REASONS: dict[type[RelayError], str] = {
    PayloadError: "payload",
    OutboxFull: "outbox_full",
    NoChannel: "channels",
}
"""The ``reason`` label a refusal raised by the service is counted under."""


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
        self.timezone = tz = _timezone(section["timezone"])
        self.failover = ChannelFailover(tz, section["failing_note_after_seconds"], store=outbox)
        for channel in self.failover.channels_failing():  # an episode from before a restart
            if channel in names:
                self.metrics.still_failing(channel)
        self.options = Options(tuple(section["subject_labels"]), tz, section.get("grafana_url"))
        retry = Retry(**section["retry"])
        self.workers = {
            n: Worker(
                ch,
                outbox,
                self.failover,
                self.metrics,
                self.options,
                retry,
                clock_fn,
                on_recovery=self._recovered,
            )
            for n, ch in channels.items()
        }
        wd = section["watchdog"]
        self.watchdog: Watchdog | None = None
        if wd["enabled"]:
            self.watchdog = Watchdog(
                self.notify, outbox, self.metrics, wd["window_seconds"], clock_fn(), tz
            )
        self.tick_seconds = min(wd["check_seconds"], 5.0)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="relay-ticker", daemon=True)

    def refused(self, path: str, reason: str, detail: str) -> None:
        """Count and log a refused webhook post (``reason``: a metrics.REFUSALS label)."""
        self.metrics.refused(reason)
        log.warning("refused %s: %s", path, detail, extra={"event": "refused", "reason": reason})

    def receive_alerts(self, raw: bytes, channels: str | None) -> Stored:
        """Parse, route and durably store one Alertmanager post (``channels``: the ``?channels=``
        hint). Raises PayloadError, NoChannel or OutboxFull, counted as refusals."""
        try:
            hint = parse_hint(channels)
            data = parse(raw)
            stored = self._store(data, hint)
        except (PayloadError, NoChannel, OutboxFull) as exc:
            self.refused("/alertmanager", REFUSAL_REASONS[type(exc)], str(exc))
            raise
        self.metrics.received("alertmanager")
        if stored.duplicate:
            self.metrics.duplicate()
        log.info(
            "stored %s group %s (%s)",
            data["status"],
            data["groupKey"],
            "duplicate" if stored.duplicate else "new",
            extra={"event": "stored", "message_id": stored.message_id, "dup": stored.duplicate},
        )
        return stored

    def receive_heartbeat(self, raw: bytes) -> bool:
        """Take a Watchdog post; True when it is a heartbeat (a firing Watchdog). A resolved
        Watchdog means Prometheus stopped evaluating it: that is no heartbeat. Raises
        PayloadError, counted as a refusal."""
        try:
            data = parse(raw)
        except PayloadError as exc:
            self.refused("/watchdog", "payload", str(exc))
            raise
        self.metrics.received("watchdog")
        beat = any(a["status"] == "firing" for a in data["alerts"])
        if beat and self.watchdog is not None:
            self.watchdog.heartbeat(self.clock())
        return beat

    def _store(self, data: dict[str, Any], hint: list[str] | None) -> Stored:
        decision = decide(data, hint, self.section, list(self.channels))
        body = {"webhook": data, "email_to": decision.email_to, "email_from": decision.email_from}
        stored = self.outbox.add(
            "alert", body, decision.channels, self.clock(), dedup_key(data), earliest_start(data)
        )
        if not stored.duplicate:
            self._wake(decision.channels)
        return stored

    def notify(
        self, title: str, text: str, severity: str, status: str, about: str | None = None
    ) -> None:
        """Queue a notice from the relay itself on every channel but the one it is ``about``."""
        targets = [c for c in self.channels if c != about]
        if not targets:
            return
        body: dict[str, Any] = {
            "title": title,
            "text": text,
            "severity": severity,
            "status": status,
        }
        if about is not None:
            body["about"] = about
        self.outbox.add("notice", body, targets, self.clock(), bounded=False)
        self._audit("relay.notice", {"title": title, "channels": targets})
        self._wake(targets)

    def _wake(self, channels: list[str]) -> None:
        for name in channels:
            self.workers[name].wake.set()

    def _recovered(self, channel: str, episode: Episode) -> None:
        if not episode.announced:
            return  # nobody was told it failed; a short blip needs no all-clear
        tz = self.timezone
        log.warning("%s delivery recovered", channel, extra={"event": "channel_recovered"})
        self.notify(
            f"{channel} delivery recovered",
            f"Works again at {clock(self.clock(), tz)}, after failing since "
            f"{clock(episode.since, tz)} ({episode.failures} failed attempts; last: "
            f"{episode.reason}). Delayed messages are being sent now.",
            "info",
            "resolved",
            about=channel,
        )

    def _failing(self, channel: str, episode: Episode) -> None:
        tz = self.timezone
        log.warning(
            "%s",
            self.failover.note(channel, episode),
            extra={"event": "channel_failing", "channel": channel},
        )
        self.notify(
            f"{channel} delivery failing",
            f"Failing since {clock(episode.since, tz)} ({episode.failures} failed attempts; "
            f"last: {episode.reason}). Messages for {channel} are kept and retried; a notice "
            "follows when it works again.",
            "warning",
            "firing",
            about=channel,
        )

    def maintain_outbox(self, run: RunContext) -> dict[str, Any]:
        """The ``outbox-maintenance`` job: expire deliveries older than
        ``outbox.max_age_seconds`` (counted and logged; they mark the run failed, since
        those messages are lost), then prune finished messages."""
        box, now = self.section["outbox"], self.clock()
        run.progress(0, 2, "steps")
        expired = self.outbox.expire(now, box["max_age_seconds"])
        lost = []
        for channel, count in sorted(expired.items()):
            self.metrics.expired(channel, count)
            lost.append(
                f"{channel}: {count} undelivered deliveries older than "
                f"{box['max_age_seconds']:g}s expired"
            )
            run.log.error(lost[-1], extra={"event": "expired", "channel": channel, "count": count})
        run.progress(1, 2, "steps")
        run.check_stop()
        pruned = self.outbox.prune(now, box["keep_delivered_seconds"])
        run.progress(2, 2, "steps")
        summary: dict[str, Any] = {"expired": sum(expired.values()), "pruned": pruned}
        if lost:
            summary["failed"] = lost
        return summary

    def tick(self, now: float) -> None:
        """Announce channels that became worth telling about, and check the Watchdog window."""
        for channel, episode in self.failover.to_announce(now):
            self._failing(channel, episode)
        if self.watchdog is not None:
            self.watchdog.check(now)

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick(self.clock())
            except Exception:  # noqa: BLE001 - the ticker must keep running
                log.exception("relay tick failed")

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
