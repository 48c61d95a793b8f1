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
from typing import Any

from helpers import ROOT, SIDECARS, free_port

# Addresses Prometheus must scrape with up == 1 (the service names and ports of the stack).
EXPECTED_TARGETS = tuple(f"{s}:8000" for s in SIDECARS) + (
    "node-exporter:9100",
    "blackbox-exporter:9115",
    "prometheus:9090",
    "alertmanager:9093",
)


@dataclass
class Stack:
    """One local stack under its own project name, driven through the Makefile."""

    project: str
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
            # the dev overlay publishes each sidecar and the dev sink on the host's loopback
            **{f"{name.upper()}_PORT": str(free_port()) for name in (*SIDECARS, "devsink")},
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
