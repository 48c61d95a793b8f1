"""Alertmanager: the configuration checks and the pinned routes of alerts the rules really fire.

Inhibitions and notifications on a real Alertmanager are in test_am_outages.py.
"""

from __future__ import annotations

import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from derived_alerts import fired
from monitoring_files import ALERTMANAGER, RULE_TESTS, load_yaml, seconds

from helpers import require_tool

CONFIG = ALERTMANAGER / "alertmanager.yml"
CASES = load_yaml(ALERTMANAGER / "tests" / "routes.yml")["cases"]
WORK = Path(tempfile.mkdtemp(prefix="alerts-routes-"))


@cache
def derived(scenario: str, at: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    work = WORK / f"{scenario}-{at}".replace(" ", "_")
    work.mkdir(exist_ok=True)
    alerts = fired(RULE_TESTS / "outages.test.yml", scenario, at, work)
    return tuple(tuple(sorted(a.labels.items())) for a in alerts)


def test_amtool_check_config() -> None:
    amtool = require_tool("amtool")
    proc = subprocess.run([amtool, "check-config", str(CONFIG)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_route(case: dict[str, Any]) -> None:
    amtool = require_tool("amtool")
    picked = [
        dict(labels)
        for labels in derived(case["scenario"], case["at"])
        if all(dict(labels).get(k) == v for k, v in case["alert"].items())
    ]
    assert len(picked) == 1, f"{case['alert']} picks {picked} in {case['scenario']}@{case['at']}"
    labels = [f"{key}={value}" for key, value in picked[0].items()]
    cmd = [amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().split(",") == case["receivers"]


def test_critical_route_is_fast_and_watchdog_repeats_often() -> None:
    routes = {r["receiver"]: r for r in load_yaml(CONFIG)["route"]["routes"]}
    assert routes["relay-critical"]["group_wait"] in {"0s", "1s", "2s"}
    assert routes["alert-path"]["group_wait"] in {"0s", "1s", "2s"}
    assert routes["watchdog"]["group_wait"] == "0s"
    assert routes["watchdog"]["repeat_interval"] == "10s"
    assert routes["watchdog"]["group_interval"] == "10s"


def test_paging_routes_hold_a_joining_alert_no_longer_than_a_first_one() -> None:
    """A page for an alert that joins a group already notified waits for the group's next
    group_interval tick; a page that opens a group waits group_wait. Prometheus re-sends a
    resolved alert every resend delay for 15 min, which keeps its group alive: the same
    endpoint failing again joins it. So group_interval <= group_wait on the paging routes
    (tests/monitoring/test_am_outages.py shows it on the real Alertmanager)."""
    routes = {r["receiver"]: r for r in load_yaml(CONFIG)["route"]["routes"]}
    for name in ("relay-critical", "alert-path"):
        route = routes[name]
        assert seconds(route["group_interval"]) <= seconds(route["group_wait"]), name


def test_receivers() -> None:
    """Relay webhooks carry the token and resolved notices; warnings reach a channel that
    does not run on the QNAP (email); the alert path and the heartbeat do not depend on the
    relay alone."""
    receivers = {r["name"]: r for r in load_yaml(CONFIG)["receivers"]}
    urls = {}
    for name, receiver in receivers.items():
        for hook in receiver.get("webhook_configs", []):
            assert hook["send_resolved"] is True
            auth = hook["http_config"]["authorization"]
            assert auth["credentials_file"] == "/run/secrets/relay_token"
            urls.setdefault(name, []).append(hook["url"])
    assert urls == {
        "relay-critical": ["http://relay:8000/alertmanager?channels=email,rocketchat"],
        "relay-warning": ["http://relay:8000/alertmanager?channels=email,rocketchat"],
        "alert-path": ["http://relay:8000/alertmanager?channels=rocketchat"],
        "watchdog": ["http://relay:8000/watchdog", "http://qnap:9188/watchdog"],
    }
    [direct] = receivers["alert-path"]["email_configs"]
    assert direct["to"] == "ops@np-dms.work"
    glob = load_yaml(CONFIG)["global"]
    assert glob["smtp_auth_password_file"] == "/run/secrets/smtp_password"
    assert glob["smtp_require_tls"] is True
