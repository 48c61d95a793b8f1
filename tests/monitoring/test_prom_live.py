"""The real Prometheus loads the project's configuration and rules and scrapes with it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from monitoring_files import RULES, load_yaml, stage_config
from support.monitoring import shipped_prometheus_flags

from helpers import free_port, require_tool, serving, wait_for

pytestmark = pytest.mark.integration


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]


@pytest.fixture
def node_exporter() -> Iterator[str]:
    binary = require_tool("prometheus-node-exporter")
    address = f"127.0.0.1:{free_port()}"
    argv = [
        binary,
        f"--web.listen-address={address}",
        "--collector.disable-defaults",
        "--collector.cpu",
        "--collector.meminfo",
        "--collector.filesystem",
    ]
    with serving(argv, f"http://{address}/metrics", "node exporter", stop_timeout=10):
        yield address


def localise(config_path: Path, node: str) -> None:
    """Point every scraped job at the local node exporter and Alertmanager at a closed port.

    Probe jobs get no targets: their relabelling would send scrapes to the configured
    blackbox-exporter hostname, which a test must never contact.
    """
    config = load_yaml(config_path)
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{free_port()}"]}
    ]
    for job in config["scrape_configs"]:
        probe = any(r.get("target_label") == "__address__" for r in job.get("relabel_configs", []))
        groups = [] if probe else [{"targets": [node], "labels": {"host": "local"}}]
        target_file = config_path.parent / job["file_sd_configs"][0]["files"][0]
        target_file.write_text(yaml.safe_dump(groups), encoding="utf-8")
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")


@pytest.fixture
def prometheus(tmp_path: Path, node_exporter: str) -> Iterator[str]:
    binary = require_tool("prometheus")
    config = stage_config(tmp_path / "etc", "dev")
    localise(config, node_exporter)
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        *shipped_prometheus_flags(),
    ]
    url = f"http://127.0.0.1:{port}"
    with serving(argv, f"{url}/-/ready", "prometheus"):
        yield url


def rule_names_in_files() -> set[str]:
    return {
        rule.get("alert") or rule["record"]
        for path in RULES.glob("*.yml")
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    }


def test_prometheus_loads_every_rule_and_scrapes(prometheus: str) -> None:
    groups = get(f"{prometheus}/api/v1/rules")["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert loaded == rule_names_in_files()

    # The fast availability group runs every 2 s: wait for an evaluation without error.
    def fast_group_evaluated() -> bool:
        [group] = [
            g
            for g in get(f"{prometheus}/api/v1/rules")["groups"]
            if g["name"] == "availability-fast"
        ]
        return all(r["health"] == "ok" for r in group["rules"])

    wait_for(fast_group_evaluated, timeout=20, what="availability-fast evaluated")

    def node_up() -> bool:
        result = get(f"{prometheus}/api/v1/query?query=up%7Bjob%3D%22node%22%7D")["result"]
        return bool(result) and result[0]["value"][1] == "1"

    wait_for(node_up, timeout=20, what="node job up")
