"""The Watchdog arithmetic of docs/alerting.md ("Watchdog timing") against the shipped files:
Prometheus' resend delay (compose/stacks/monitoring.yml, the flag tests/support starts
Prometheus with), the Watchdog's rule group, Alertmanager's Watchdog route and the relay's
default window. The real processes are measured in
tests/integration/relay/test_watchdog_dead_prometheus.py."""

from __future__ import annotations

from typing import Any

from monitoring_files import ALERTMANAGER, PROMETHEUS, RULES, load_yaml, seconds
from support.monitoring import shipped_prometheus_flags

from helpers import ROOT
from napops.relay.schema import SECTION

WATCHDOG = SECTION["properties"]["watchdog"]["properties"]
DEAD_PROMETHEUS_BOUND = 110  # seconds, docs/alerting.md


def resend_delay() -> float:
    flags = [f for f in shipped_prometheus_flags() if f.startswith("--rules.alert.resend-delay=")]
    assert len(flags) == 1, f"the monitoring stack sets no resend delay: {flags}"
    return seconds(flags[0].split("=", 1)[1])


def watchdog_group_interval() -> float:
    default = load_yaml(PROMETHEUS / "prometheus.yml")["global"]["evaluation_interval"]
    for path in sorted(RULES.glob("*.yml")):
        for group in load_yaml(path)["groups"]:
            if any(r.get("alert") == "Watchdog" for r in group["rules"]):
                return seconds(group.get("interval", default))
    raise AssertionError("no Watchdog rule")


def watchdog_route() -> dict[str, Any]:
    config = load_yaml(ALERTMANAGER / "alertmanager.yml")
    [route] = [r for r in config["route"]["routes"] if r.get("receiver") == "watchdog"]
    return route


def test_every_evaluation_resends_the_watchdog() -> None:
    # Prometheus re-sends when the last send is strictly older than the delay
    assert resend_delay() < watchdog_group_interval()


def test_a_dead_prometheus_is_told_within_the_documented_bound() -> None:
    interval = watchdog_group_interval()
    ends_after_last_send = 4 * max(resend_delay(), interval)
    worst = ends_after_last_send + WATCHDOG["window_seconds"]["default"]
    worst += WATCHDOG["check_seconds"]["default"]
    assert worst <= DEAD_PROMETHEUS_BOUND
    assert f"**at most 60 + 50 = {DEAD_PROMETHEUS_BOUND} s" in (
        ROOT / "docs" / "alerting.md"
    ).read_text("utf-8").replace("\n  ", " ")
    assert ends_after_last_send == 60


def test_one_lost_heartbeat_and_an_alertmanager_restart_stay_within_the_window() -> None:
    route = watchdog_route()
    longest_gap = seconds(route["repeat_interval"]) + seconds(route["group_interval"])
    window = WATCHDOG["window_seconds"]["default"]
    assert 2 * longest_gap < window
    # Alertmanager back: the Watchdog returns at Prometheus' next evaluation and is sent at once
    assert seconds(route["group_wait"]) == 0
    assert longest_gap + watchdog_group_interval() < window
