"""Alertmanager: the configuration checks, pinned routes, and inhibitions on a real Alertmanager."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from monitoring_files import ALERTMANAGER, load_yaml

from helpers import free_port, require_tool, serving, wait_for

CONFIG = ALERTMANAGER / "alertmanager.yml"
CASES = load_yaml(ALERTMANAGER / "tests" / "routes.yml")["cases"]


def test_amtool_check_config() -> None:
    amtool = require_tool("amtool")
    proc = subprocess.run([amtool, "check-config", str(CONFIG)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_route(case: dict[str, Any]) -> None:
    amtool = require_tool("amtool")
    labels = [f"{key}={value}" for key, value in case["labels"].items()]
    cmd = [amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().split(",") == case["receivers"]


def test_critical_route_is_fast_and_watchdog_repeats_often() -> None:
    routes = {r["receiver"]: r for r in load_yaml(CONFIG)["route"]["routes"]}
    assert routes["relay-critical"]["group_wait"] in {"0s", "1s", "2s"}
    assert routes["relay-watchdog"]["group_wait"] == "0s"
    assert routes["relay-watchdog"]["repeat_interval"] == "10s"
    assert routes["relay-watchdog"]["group_interval"] == "10s"


def test_receivers_post_to_the_relay_with_token_and_resolved() -> None:
    urls = {}
    for receiver in load_yaml(CONFIG)["receivers"]:
        [hook] = receiver["webhook_configs"]
        assert hook["send_resolved"] is True
        auth = hook["http_config"]["authorization"]
        assert auth["credentials_file"] == "/run/secrets/relay_token"
        urls[receiver["name"]] = hook["url"]
    assert urls == {
        "relay-critical": "http://relay:8000/alertmanager?channels=email,rocketchat",
        "relay-warning": "http://relay:8000/alertmanager?channels=rocketchat",
        "relay-watchdog": "http://relay:8000/watchdog",
    }


# --- inhibitions, on the real Alertmanager ------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Alertmanager with the project's routes and inhibitions on 127.0.0.1.

    Webhook URLs are pointed at a closed loopback port so that no configured hostname is ever
    contacted; notifications simply fail, which does not affect inhibition.
    """
    binary = require_tool("prometheus-alertmanager")
    config = load_yaml(CONFIG)
    dead = f"http://127.0.0.1:{free_port()}/"
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = dead
            hook.pop("http_config")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    argv = [
        binary,
        f"--config.file={path}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    url = f"http://127.0.0.1:{port}"
    with serving(argv, f"{url}/-/ready", "alertmanager", stop_timeout=10):
        yield url


def post_alerts(url: str, alerts: list[dict[str, str]]) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    body = [{"labels": labels, "startsAt": start.isoformat()} for labels in alerts]
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).close()


def inhibited(
    url: str,
    count: int = 7,
    keys: tuple[str, ...] = ("alertname", "host", "severity", "mountpoint"),
) -> dict[str, bool] | None:
    """The ``keys`` joined by "/" -> inhibited?, once all ``count`` alerts are processed."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        alerts = json.load(response)
    if len(alerts) < count:
        return None
    return {
        "/".join(a["labels"].get(k, "") for k in keys): bool(a["status"]["inhibitedBy"])
        for a in alerts
    }


@pytest.mark.integration
def test_inhibitions(alertmanager: str) -> None:
    post_alerts(
        alertmanager,
        [
            {
                "alertname": "HostDown",
                "host": "qnap",
                "severity": "critical",
                "instance": "qnap:9100",
            },
            {
                "alertname": "TargetDown",
                "host": "qnap",
                "severity": "critical",
                "instance": "qnap:9104",
            },
            {
                "alertname": "TargetDown",
                "host": "asustor",
                "severity": "critical",
                "instance": "relay:8000",
            },
            {
                "alertname": "HostDiskFull",
                "host": "asustor",
                "severity": "critical",
                "instance": "a:9100",
                "mountpoint": "/volume1",
            },
            {
                "alertname": "HostDiskFull",
                "host": "asustor",
                "severity": "warning",
                "instance": "a:9100",
                "mountpoint": "/volume1",
            },
            {
                "alertname": "HostDiskFull",
                "host": "asustor",
                "severity": "warning",
                "instance": "a:9100",
                "mountpoint": "/volume2",
            },
            {"alertname": "Watchdog", "severity": "none"},
        ],
    )
    expected = {
        "HostDown/qnap/critical/": False,
        "TargetDown/qnap/critical/": True,  # its host is down
        "TargetDown/asustor/critical/": False,
        "HostDiskFull/asustor/critical//volume1": False,
        "HostDiskFull/asustor/warning//volume1": True,  # the critical of the same disk
        "HostDiskFull/asustor/warning//volume2": False,  # another disk stays visible
        "Watchdog//none/": False,
    }
    # Alertmanager's inhibitor learns source alerts asynchronously and marks targets when the
    # alerts are listed, so poll until the marks settle; on timeout, show what they were.
    try:
        wait_for(lambda: inhibited(alertmanager) == expected, timeout=15, what="inhibitions")
    except AssertionError:
        assert inhibited(alertmanager) == expected


@pytest.mark.integration
def test_a_dead_prober_silences_its_own_probes_only(alertmanager: str) -> None:
    qnap_prober, asustor_prober = "qnap:9116", "blackbox-exporter:9115"
    post_alerts(
        alertmanager,
        [
            {
                "alertname": "TargetDown",
                "job": "blackbox-exporter",
                "host": "qnap",
                "severity": "critical",
                "instance": qnap_prober,
                "prober": qnap_prober,
            },
            {
                "alertname": "EndpointDown",
                "job": "blackbox-tcp",
                "host": "qnap",
                "severity": "critical",
                "instance": "mariadb:3306",
                "prober": qnap_prober,
            },
            {
                "alertname": "EndpointDown",
                "job": "blackbox-http",
                "host": "qnap",
                "severity": "critical",
                "instance": "https://dms.np-dms.work/",
                "prober": asustor_prober,
            },
        ],
    )
    expected = {
        f"TargetDown/{qnap_prober}": False,
        "EndpointDown/mariadb:3306": True,  # probed by the dead prober: not a finding
        "EndpointDown/https://dms.np-dms.work/": False,  # another prober: still news
    }
    keys = ("alertname", "instance")
    try:
        wait_for(
            lambda: inhibited(alertmanager, 3, keys) == expected, timeout=15, what="inhibitions"
        )
    except AssertionError:
        assert inhibited(alertmanager, 3, keys) == expected
