"""A dead Prometheus is announced through the Watchdog path within the documented bound.

Real Prometheus (the project's rules, the shipped `--rules.alert.resend-delay`, through
tests/support), real Alertmanager (the shipped routes) and the relay with its shipped watchdog
window. Prometheus is killed; Alertmanager keeps the Watchdog until the `endsAt` Prometheus
last gave it and heartbeats stop then; the relay says "monitoring pipeline down" by email.
docs/alerting.md ("Watchdog timing") has the arithmetic: at most 4 x 15 s + 45 s + 5 s = 110 s.
"""

from __future__ import annotations

import signal
import time

import pytest
from support.alerting import Stack, Target
from support.relay import TOKEN, RelayProcess, base_config

from helpers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOUND_SECONDS = 110  # docs/alerting.md: a dead Prometheus is told within 1 min 50 s


def test_dead_prometheus_is_told_within_the_documented_bound(tmp_path, smtp, chat, relays):
    target = Target()
    target.start()
    cfg = base_config(tmp_path / "state", smtp, chat)
    del cfg["relay"]["watchdog"]  # the schema defaults, as shipped
    relay = RelayProcess(tmp_path, cfg).start()
    relays.append(relay)
    stack = Stack(tmp_path, relay.url, TOKEN, target)
    try:
        stack.start()
        wait_for(
            lambda: relay.metric("napops_relay_watchdog_last_heartbeat_timestamp_seconds"),
            timeout=60,
            what="a first Watchdog heartbeat at the relay",
        )
        assert "monitoring pipeline down" not in smtp.subjects()
        prometheus = stack.procs[1]
        assert prometheus.name == "prometheus"
        prometheus.kill(signal.SIGKILL)
        killed = time.time()
        wait_for(
            lambda: "monitoring pipeline down" in smtp.subjects(),
            timeout=BOUND_SECONDS + 30,
            what="'monitoring pipeline down' by email",
        )
        told_after = time.time() - killed
        print(f"dead Prometheus told {told_after:.1f}s after it was killed")
        assert told_after <= BOUND_SECONDS, f"told {told_after:.0f}s after Prometheus died"
        assert smtp.subjects().count("monitoring pipeline down") == 1
    finally:
        stack.stop()
        target.stop()
