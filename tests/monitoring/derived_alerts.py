"""Alerts as the project's rules really produce them, worked out by promtool.

``fired(file, group, eval_time)`` takes one named test group of a promtool test file (its input
series: an outage as Prometheus would have scraped it), asks promtool for every alert of every
rule file at ``eval_time`` (expecting none, so promtool prints what it got) and returns the
alerts promtool reports, with their labels and rendered annotations. Routing and inhibition
tests feed exactly these into a real Alertmanager: no hand-written alert can slip in.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from monitoring_files import RULES, load_yaml

from helpers import require_tool

PAIR = re.compile(r'([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Alert:
    labels: dict[str, str]
    annotations: dict[str, str]


def _pairs(text: str) -> dict[str, str]:
    return {k: bytes(v, "utf-8").decode("unicode_escape") for k, v in PAIR.findall(text)}


def alert_names() -> list[str]:
    return sorted(
        {
            rule["alert"]
            for path in RULES.glob("*.yml")
            for group in load_yaml(path)["groups"]
            for rule in group["rules"]
            if "alert" in rule
        }
    )


def parse_got(output: str) -> list[Alert]:
    """The alerts of every ``got:[...]`` block of promtool's failure report."""
    alerts = []
    for block in output.split("got:[")[1:]:
        block = block.split("alertname:")[0]
        labels = annotations = None
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("Labels:{"):
                labels = _pairs(line[len("Labels:{") :])
            elif line.startswith("Annotations:{") and labels is not None:
                annotations = _pairs(line[len("Annotations:{") :])
                alerts.append(Alert(labels, annotations))
                labels = None
    return alerts


def fired(test_file: Path, group_name: str, eval_time: str, work: Path) -> list[Alert]:
    """Every alert the rules fire at ``eval_time`` for the input series of ``group_name``."""
    promtool = require_tool("promtool")
    doc: dict[str, Any] = load_yaml(test_file)
    groups = [g for g in doc["tests"] if g.get("name") == group_name]
    assert len(groups) == 1, f"{test_file.name}: no single test group named {group_name!r}"
    group = dict(groups[0])
    group["alert_rule_test"] = [
        {"eval_time": eval_time, "alertname": name, "exp_alerts": []} for name in alert_names()
    ]
    probe = {
        "rule_files": [str((test_file.parent / f).resolve()) for f in doc["rule_files"]],
        "evaluation_interval": doc.get("evaluation_interval", "1m"),
        "tests": [group],
    }
    path = work / "derived.test.yml"
    path.write_text(yaml.safe_dump(probe, sort_keys=False), encoding="utf-8")
    proc = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    output = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return []  # nothing fires
    assert "got:[" in output, f"promtool failed for another reason:\n{output}"
    return parse_got(output)
