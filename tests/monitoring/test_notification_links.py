"""Every link a notification carries leads somewhere real.

A real Prometheus with the project's rules and the link flags of compose/stacks/monitoring.yml
sends its alerts to a real Alertmanager with the shipped routes (am_harness.py); the webhook
notification is what the relay would receive. Followed from it: the Prometheus link
(generatorURL), the Alertmanager link (externalURL), the runbook (runbook_url, served by that
Prometheus from docs/), and the Grafana link the relay builds from its configured
``grafana_url`` (Grafana cannot run here: the dashboard uid and variable must exist in
grafana/dashboards/).
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from am_harness import alertmanager
from monitoring_files import RULES, alert_rules, load_yaml

from helpers import ROOT, free_port, require_tool, wait_for

COMPOSE = ROOT / "compose" / "stacks" / "monitoring.yml"
RELAY_CONFIG = ROOT / "compose" / "config" / "napops" / "relay.yml"
DASHBOARDS = ROOT / "grafana" / "dashboards"


def flag(service: str, name: str) -> str:
    """The value of ``--name=`` in a monitoring service's command (its default when it is
    ``${VAR:-default}``)."""
    command = load_yaml(COMPOSE)["services"][service]["command"]
    [value] = [c.split("=", 1)[1] for c in command if c.startswith(f"--{name}=")]
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


def test_prometheus_and_alertmanager_name_their_external_urls_and_serve_runbooks() -> None:
    assert flag("prometheus", "web.external-url") == "http://127.0.0.1:9090"
    assert flag("alertmanager", "web.external-url") == "http://127.0.0.1:9093"
    assets = flag("prometheus", "web.user-assets")
    mounts = {
        v["target"]: v["source"]
        for v in load_yaml(COMPOSE)["services"]["prometheus"]["volumes"]
        if isinstance(v, dict)
    }
    assert mounts[f"{assets}/docs"].endswith("../../docs}"), mounts


def anchors(markdown: str) -> set[str]:
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode("utf-8", "replace")


def grafana_link(labels: dict[str, str]) -> str:
    """What the relay renders: ``grafana_url.format_map`` over the labels, missing ones empty."""
    template = load_yaml(RELAY_CONFIG)["relay"]["grafana_url"]
    return str(template).format_map(
        {**dict.fromkeys(re.findall(r"{(\w+)}", template), ""), **labels}
    )


def check_grafana_link(url: str) -> None:
    parts = urlsplit(url)
    match = re.fullmatch(r"/d/([\w-]+)(?:/[\w-]*)?", parts.path)
    assert match, f"not a dashboard link: {url}"
    dashboards = {
        d["uid"]: d for d in map(lambda p: json.loads(p.read_text()), DASHBOARDS.glob("*.json"))
    }
    assert match.group(1) in dashboards, f"no dashboard with uid {match.group(1)}"
    variables = {
        v["name"] for v in dashboards[match.group(1)].get("templating", {}).get("list", [])
    }
    for key in parse_qs(parts.query):
        assert key.startswith("var-") and key[4:] in variables, f"{url}: {key} is no variable"


@pytest.mark.integration
def test_a_notification_links_to_real_pages(tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "docs").symlink_to(ROOT / "docs")
    with alertmanager(tmp_path) as (am, hooks, _mail):
        port = free_port()
        prom_url = f"http://127.0.0.1:{port}"
        config = {
            "global": {"evaluation_interval": "2s"},
            "rule_files": [str(p) for p in sorted(RULES.glob("*.yml"))],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [am.url.split("//")[1]]}]}]
            },
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={prom_url}",
                f"--web.user-assets={assets}",
                # the first send can precede Alertmanager's discovery; resend soon after
                "--rules.alert.resend-delay=2s",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # the Watchdog fires from the first evaluation: a notification arrives at once
            wait_for(lambda: hooks.to("relay:8000/watchdog"), timeout=60, what="a notification")
            notification = hooks.to("relay:8000/watchdog")[0].body
            [alert] = notification["alerts"]
            links: dict[str, Any] = {
                "Prometheus": alert["generatorURL"],
                "Alertmanager": notification["externalURL"].rstrip("/") + "/#/alerts",
                "runbook": alert["annotations"]["runbook_url"],
            }
            assert links["Prometheus"].startswith(prom_url), links
            assert links["Alertmanager"].startswith(am.url), links
            for name, url in links.items():
                status, _ = fetch(url.split("#")[0])
                assert status == 200, (name, url)
            # every rule's runbook, as Prometheus renders it, is served with its section
            for _path, rule in alert_rules():
                url = rule["annotations"]["runbook_url"].replace("{{ $externalURL }}", prom_url)
                page, _, anchor = url.partition("#")
                status, text = fetch(page)
                assert status == 200, url
                assert not anchor or anchor in anchors(text), f"{rule['alert']}: no #{anchor}"
            check_grafana_link(grafana_link(alert["labels"]))
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_the_relays_grafana_link_opens_the_overview_on_the_alerts_host() -> None:
    link = grafana_link({"alertname": "HostDown", "host": "qnap", "severity": "critical"})
    assert urlsplit(link).path == "/d/napops-overview"
    assert parse_qs(urlsplit(link).query) == {"var-host": ["qnap"]}
    check_grafana_link(link)
    with pytest.raises(AssertionError, match="no dashboard"):
        check_grafana_link("https://grafana.np-dms.work/d/estate-overview?var-instance=x")
    with pytest.raises(AssertionError, match="no variable"):
        check_grafana_link("https://grafana.np-dms.work/d/napops-overview?var-instance=x")
