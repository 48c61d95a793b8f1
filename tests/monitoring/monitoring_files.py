"""Where the monitoring configuration lives, and readers for it shared by the monitoring tests."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from helpers import ROOT

PROMETHEUS = ROOT / "prometheus"
ALERTMANAGER = ROOT / "alertmanager"
RULES = PROMETHEUS / "rules"
RULE_TESTS = PROMETHEUS / "tests"
TARGETS = PROMETHEUS / "targets"
ENVIRONMENTS = ("dev", "staging", "prod")
# Runbooks are served by Prometheus itself (--web.user-assets: the docs/ folder at /user/docs/),
# so they stay reachable when the QNAP and its Gitea are the problem.
RUNBOOK_BASE = "{{ $externalURL }}/user/"


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def seconds(duration: str) -> float:
    """A Prometheus/Alertmanager duration ("1m30s") in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(int(n) * _UNITS[u] for n, u in parts)


def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def alert_rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every alerting rule of every rule file, with the file it came from."""
    for path in sorted(RULES.glob("*.yml")):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield path, rule


def scrape_jobs() -> list[dict[str, Any]]:
    return list(load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"])


def target_file(job: dict[str, Any]) -> str:
    """The single file_sd file of a job, relative to prometheus/ (e.g. targets/node.yml)."""
    [sd] = job["file_sd_configs"]
    [name] = sd["files"]
    return str(name)


def stage_config(dest: Path, env: str) -> Path:
    """Copy prometheus/ to ``dest`` laid out as in the container: targets/<env> over targets/.

    Returns the path of the copied prometheus.yml.
    """
    shutil.copytree(PROMETHEUS, dest, ignore=shutil.ignore_patterns("targets"))
    shutil.copytree(TARGETS / env, dest / "targets")
    return dest / "prometheus.yml"
