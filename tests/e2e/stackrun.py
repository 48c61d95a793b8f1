"""Running the local stack from tests: `make up` / `make down` under a project of the test's own.

Used by tests/e2e/test_stack.py and tests/bench/test_stack_bench.py. Every stack started here
gets its own Compose project name and free published ports, so it can run beside a developer's
`make up` and beside other helpers' tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import ROOT, free_port

SIDECARS = ("relay", "certs", "deploy", "backup", "compliance")
# Addresses Prometheus must scrape with up == 1 (the service names and ports of the stack).
EXPECTED_TARGETS = tuple(f"{s}:8000" for s in SIDECARS) + (
    "node-exporter:9100",
    "blackbox-exporter:9115",
    "prometheus:9090",
    "alertmanager:9093",
)

# Used only while the repository has no prometheus/ or alertmanager/ configuration yet (their
# owners write them); once they exist, the stack runs with the repository's own files.
_FALLBACK_PROMETHEUS = """\
global: {scrape_interval: 5s, evaluation_interval: 5s}
alerting:
  alertmanagers: [{static_configs: [{targets: ["alertmanager:9093"]}]}]
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ["prometheus:9090"]}]
  - job_name: alertmanager
    static_configs: [{targets: ["alertmanager:9093"]}]
  - job_name: node
    static_configs: [{targets: ["node-exporter:9100"]}]
  - job_name: blackbox
    static_configs: [{targets: ["blackbox-exporter:9115"]}]
  - job_name: napops
    file_sd_configs: [{files: ["/etc/prometheus/targets/*.yml"]}]
"""
_FALLBACK_TARGETS = "- targets: [" + ", ".join(f"{s}:8000" for s in SIDECARS) + "]\n"
_FALLBACK_BLACKBOX = "modules:\n  http_2xx: {prober: http}\n"
_FALLBACK_ALERTMANAGER = 'route: {receiver: "null"}\nreceivers: [{name: "null"}]\n'


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def config_overrides(scratch: Path) -> dict[str, str]:
    """Environment that points the stack at fallback configs for what the repo lacks yet."""
    env: dict[str, str] = {}
    prom = ROOT / "prometheus"
    needed = (prom / "prometheus.yml", prom / "targets" / "dev", prom / "blackbox" / "blackbox.yml")
    if not all(p.exists() for p in needed):
        _write(scratch / "prometheus" / "prometheus.yml", _FALLBACK_PROMETHEUS)
        _write(scratch / "prometheus" / "targets" / "dev" / "napops.yml", _FALLBACK_TARGETS)
        _write(scratch / "prometheus" / "blackbox" / "blackbox.yml", _FALLBACK_BLACKBOX)
        env["PROMETHEUS_DIR"] = str(scratch / "prometheus")
    if not (ROOT / "alertmanager" / "alertmanager.yml").exists():
        _write(scratch / "alertmanager" / "alertmanager.yml", _FALLBACK_ALERTMANAGER)
        env["ALERTMANAGER_DIR"] = str(scratch / "alertmanager")
    # the containers run as uid 65532 and must read these folders
    for folder in (scratch, *scratch.rglob("*")):
        folder.chmod(0o755 if folder.is_dir() else 0o644)
    return env


@dataclass
class Stack:
    """One local stack under its own project name, driven through the Makefile."""

    project: str
    scratch: Path
    env: dict[str, str] = field(default_factory=dict)
    up_output: subprocess.CompletedProcess[str] | None = None

    def __post_init__(self) -> None:
        self.prometheus_port = free_port()
        self.alertmanager_port = free_port()
        self.env = {
            **os.environ,
            "ENV": "dev",
            "NAPOPS_PROJECT": self.project,
            "PROMETHEUS_PORT": str(self.prometheus_port),
            "ALERTMANAGER_PORT": str(self.alertmanager_port),
            "GRAFANA_PORT": str(free_port()),
            **config_overrides(self.scratch),
        }

    def make(self, *targets: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``make TARGETS`` in the repository with this stack's environment."""
        return subprocess.run(
            ["make", "--no-print-directory", *targets],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def up(self) -> float:
        """`make up`; returns its wall time in seconds. Fails the test with its output."""
        started = time.monotonic()
        proc = self.make("up")
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, f"make up failed:\n{proc.stdout}\n{proc.stderr}"
        return elapsed

    def docker(self, *args: str) -> str:
        proc = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def docker_json(self, *args: str) -> Any:
        return json.loads(self.docker(*args))

    def ids(self, kind: str) -> list[str]:
        """Ids of this project's containers, networks or volumes (by Compose's labels)."""
        label = f"label=com.docker.compose.project={self.project}"
        cmd = {"container": ["ps", "-aq"], "network": ["network", "ls", "-q"]}.get(
            kind, ["volume", "ls", "-q"]
        )
        return self.docker(*cmd, "--filter", label).split()

    def container(self, service: str) -> dict[str, Any]:
        """``docker inspect`` of the service's container."""
        out = self.docker(
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        ).split()
        assert len(out) == 1, f"expected one container for {service}, found {out}"
        result: dict[str, Any] = self.docker_json("inspect", out[0])[0]
        return result

    def prometheus(self, path: str) -> Any:
        """GET the published Prometheus API and return its ``data``."""
        url = f"http://127.0.0.1:{self.prometheus_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback only
            return json.load(resp)["data"]


def targets_up(stack: Stack) -> dict[str, bool]:
    """For each expected address: is a target scraped there healthy, with its ``up`` sample 1?

    Matched on the scrape URL's host:port, so a relabelled ``instance`` or a blackbox probe
    (scraped at blackbox-exporter:9115/probe) counts too.
    """
    active = stack.prometheus("/api/v1/targets?state=active")["activeTargets"]
    up_samples = stack.prometheus("/api/v1/query?query=up")["result"]
    up_by_labels = {
        (s["metric"].get("job"), s["metric"].get("instance")): s["value"][1] for s in up_samples
    }
    state = dict.fromkeys(EXPECTED_TARGETS, False)
    for target in active:
        address = urllib.parse.urlsplit(target["scrapeUrl"]).netloc
        if address in state and target["health"] == "up":
            key = (target["labels"].get("job"), target["labels"].get("instance"))
            state[address] = state[address] or up_by_labels.get(key) == "1"
    return state
