"""Dashboard log queries select only stream labels that the Alloy configuration creates.

LogQL cannot be parsed here (no Loki); this checks what a typo would break silently: a label
no stream carries makes a panel empty without any error.
"""

from __future__ import annotations

import re

from alloy_text import parse
from grafana.grafana_dashboards import all_queries

from helpers import ALLOY

_SELECTOR = re.compile(r"\{([^{}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
_LABEL_VALUES = re.compile(r"label_values\((?:\{[^}]*\}\s*,\s*)?(\w+)\)")


def alloy_labels() -> set[str]:
    """Labels every stream can carry: relabel targets, promoted JSON fields, external labels."""
    root = parse(ALLOY.read_text(encoding="utf-8"))
    labels: set[str] = set()
    for block in root.walk():
        if block.name == "rule":
            labels.update(block.strings("target_label"))
        if block.name == "stage.labels":
            labels.update(block.keys("values"))
        if block.name == "loki.write":
            labels.update(block.keys("external_labels"))
    return labels


def loki_queries() -> list[tuple[str, str]]:
    """(where, expr) of every Loki query of every dashboard, nested panels included."""
    return [(f"{q.dashboard}: {q.where}", q.expr) for q in all_queries("loki")]


def test_alloy_creates_the_labels_operators_query_by() -> None:
    assert {"compose_project", "compose_service", "container", "host", "level", "event"} <= (
        alloy_labels()
    )


def test_dashboard_log_queries_use_only_alloy_labels() -> None:
    known = alloy_labels()
    queries = loki_queries()
    assert len(queries) >= 8, "the logs dashboard and the sidecar dashboards query Loki"
    for where, expr in queries:
        selectors = _SELECTOR.findall(expr)
        names = {m for s in selectors for m in _MATCHER.findall(s)}
        names |= set(_LABEL_VALUES.findall(expr))
        assert names, f"{where}: no stream selector in {expr!r}"
        assert names <= known, f"{where}: labels {sorted(names - known)} are never set"


def test_log_queries_have_balanced_brackets() -> None:
    for where, expr in loki_queries():
        depth = 0
        for ch in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
            depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(ch, 0)
            assert depth >= 0, where
        assert depth == 0, where
