"""Dashboard panels against the real scrape configuration: units, and `up` selectors that
match real targets (a stat over a job that does not exist shows a red 0 forever)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from scrape_labels import real_targets

from helpers import ROOT

DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
NEEDS_UNIT = {"timeseries", "stat", "gauge", "bargauge"}
UP = re.compile(r"\bup\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
TARGETS = [t.labels for t in real_targets()]


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def all_panels() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, panel)
        for path in DASHBOARDS
        for panel in panels(json.loads(path.read_text(encoding="utf-8"))["panels"])
    ]


def matches(selector: str, labels: dict[str, str]) -> bool:
    for name, op, value in MATCHER.findall(selector):
        if "$" in value:  # a dashboard variable: any value may be chosen
            continue
        have = labels.get(name, "")
        hit = re.fullmatch(value, have) is not None if "~" in op else have == value
        if hit != (op in {"=", "=~"}):
            return False
    return True


@pytest.mark.parametrize(
    ("dashboard", "panel"),
    [(d, p) for d, p in all_panels() if p.get("type") in NEEDS_UNIT],
    ids=lambda v: v if isinstance(v, str) else v.get("title"),
)
def test_every_graph_has_a_unit(dashboard: str, panel: dict[str, Any]) -> None:
    assert panel.get("fieldConfig", {}).get("defaults", {}).get("unit"), (
        f"{dashboard}: panel {panel.get('title')!r} has no unit"
    )


def up_selectors() -> list[tuple[str, str, str]]:
    return [
        (dashboard, str(panel.get("title")), selector)
        for dashboard, panel in all_panels()
        for target in panel.get("targets", [])
        for selector in UP.findall(str(target.get("expr", "")))
    ]


@pytest.mark.parametrize(("dashboard", "title", "selector"), up_selectors())
def test_up_selectors_match_real_targets(dashboard: str, title: str, selector: str) -> None:
    assert any(matches(selector, labels) for labels in TARGETS), (
        f"{dashboard}: {title!r} selects up{{{selector}}}, which no target of any environment has"
    )


def test_the_matcher_model() -> None:
    assert matches('job="napops", sidecar="backup"', {"job": "napops", "sidecar": "backup"})
    assert not matches('job=~"(napops-)?backup"', {"job": "napops", "sidecar": "backup"})
    assert matches('host=~"$host"', {"job": "node"})
    assert not matches('job!="node"', {"job": "node"})
