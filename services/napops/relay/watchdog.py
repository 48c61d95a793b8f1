"""The dead man's switch: Alertmanager's always-firing Watchdog alert is a heartbeat.

If no heartbeat arrives within ``window`` seconds the relay says "monitoring pipeline down"
on every channel, once, and a recovery notice when heartbeats return. The last heartbeat
and the down state are kept in the outbox, so a restart neither forgets an outage nor
announces it twice. After start-up the window counts from the start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .metrics import RelayMetrics
from .outbox import Outbox
from .render import clock

log = logging.getLogger(__name__)

Notify = Callable[[str, str, str, str], None]
"""notify(title, text, severity, status) queues a notice on every channel."""


class Watchdog:
    def __init__(
        self,
        notify: Notify,
        outbox: Outbox,
        metrics: RelayMetrics,
        window: float,
        now: float,
        timezone: str = "UTC",
    ):
        self.notify, self.outbox, self.metrics = notify, outbox, metrics
        self.window, self.timezone = window, timezone
        self._lock = threading.Lock()
        last = outbox.get_meta("watchdog_last")
        self.last = float(last) if last else None
        self.down = outbox.get_meta("watchdog_down") == "1"
        self.armed_at = now
        metrics.heartbeat(self.last or 0)
        metrics.pipeline(self.down)

    def heartbeat(self, now: float) -> None:
        """Record a heartbeat; announce recovery when the pipeline was down."""
        with self._lock:
            previous, was_down = self.last, self.down
            self.last, self.down = now, False
            self.outbox.set_meta("watchdog_last", repr(now))
            self.metrics.heartbeat(now)
            log.debug("Watchdog heartbeat", extra={"event": "heartbeat"})
            if not was_down:
                return
            self.outbox.set_meta("watchdog_down", "0")
            self.metrics.pipeline(False)
        since = "start-up" if previous is None else clock(previous, self.timezone)
        log.warning("Watchdog heartbeats are back", extra={"event": "watchdog_recovered"})
        self.notify(
            "monitoring pipeline recovered",
            f"Watchdog heartbeats are arriving again (none from {since} until "
            f"{clock(now, self.timezone)}). Alerts from that time may have been missed: check "
            "the Alertmanager UI for what fired meanwhile.",
            "info",
            "resolved",
        )

    def check(self, now: float) -> bool:
        """Announce "monitoring pipeline down" once when the window has passed; True if down."""
        with self._lock:
            reference = max(self.last or 0.0, self.armed_at)
            if self.down or now - reference <= self.window:
                return self.down
            self.down = True
            self.outbox.set_meta("watchdog_down", "1")
            self.metrics.pipeline(True)
        last = "since start-up" if self.last is None else f"since {clock(self.last, self.timezone)}"
        log.error(
            "no Watchdog heartbeat for %.0fs: monitoring pipeline down",
            now - reference,
            extra={"event": "watchdog_down"},
        )
        self.notify(
            "monitoring pipeline down",
            f"No Watchdog heartbeat from Alertmanager {last} (window {self.window:g}s). "
            "Prometheus, Alertmanager or their path to the relay is broken: other alerts are "
            "probably not arriving either. Runbook: docs/runbooks/monitoring-down.md",
            "critical",
            "firing",
        )
        return True
