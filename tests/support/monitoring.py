"""A real Prometheus and a real Alertmanager (the Debian packages) as processes on 127.0.0.1,
each on a free port with its data in a folder of the test's own. The configuration is the
caller's: the project's files (support.alerting, tests/monitoring) or one written for the test
(tests/grafana). Call ``start_ready()`` on the result, ``stop()`` at the end."""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers import ROOT, free_port, require_tool
from support.process import Server

MONITORING_STACK = ROOT / "compose" / "stacks" / "monitoring.yml"
BEHAVIOUR_FLAGS = ("--rules.",)
"""Flags of the shipped Prometheus command that change how alerts behave (not paths or
addresses): a test's Prometheus runs with them as the stack does."""


def shipped_prometheus_flags() -> list[str]:
    """The alerting-behaviour flags of Prometheus' command in compose/stacks/monitoring.yml
    (e.g. ``--rules.alert.resend-delay``)."""
    stack = yaml.safe_load(MONITORING_STACK.read_text("utf-8"))
    command = stack["services"]["prometheus"]["command"]
    return [str(flag) for flag in command if str(flag).startswith(BEHAVIOUR_FLAGS)]


def prometheus(config: Path, work: Path, port: int | None = None) -> Server:
    """``prometheus`` with ``config``, its TSDB in ``work``/prom-data and the shipped alerting
    flags (:func:`shipped_prometheus_flags`); not started."""
    port = port or free_port()
    argv = [
        require_tool("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={work / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}",
        *shipped_prometheus_flags(),
    ]
    return Server(argv, work / "prometheus.log", port, name="prometheus")


def alertmanager(config: Path, work: Path, port: int | None = None) -> Server:
    """``prometheus-alertmanager`` with ``config``, alone (no cluster); not started."""
    port = port or free_port()
    argv = [
        require_tool("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={work / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return Server(argv, work / "alertmanager.log", port, name="alertmanager")
