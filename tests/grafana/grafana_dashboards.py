"""Read the provisioned dashboards and every query in them, ready for promtool."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import ROOT

GRAFANA = ROOT / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES = GRAFANA / "provisioning" / "datasources"
PROVIDERS = GRAFANA / "provisioning" / "dashboards"
FIXED_UIDS = {"prometheus", "loki", "alertmanager"}

# Values a template variable takes when an expression is checked outside Grafana. Grafana's
# interval variables must become valid durations; any other variable is a label value.
SUBSTITUTIONS = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "__auto": "1m",
    "__interval_ms": "60000",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class Query:
    """One query of a dashboard: where it is, which datasource runs it, its text."""

    dashboard: str
    where: str
    uid: str
    expr: str

    @property
    def promql(self) -> str:
        """The expression with template variables replaced by valid values."""
        return substitute(self.expr)


def substitute(expr: str, default: str = "qnap") -> str:
    """Replace ``$var``, ``${var}`` and ``[[var]]`` by a value PromQL accepts in its place."""

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return SUBSTITUTIONS.get(name, default)

    return _VARIABLE.sub(value, expr)


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def uid_of(datasource: Any) -> str | None:
    if isinstance(datasource, dict):
        uid = datasource.get("uid")
        return str(uid) if uid is not None else None
    return None if datasource is None else str(datasource)


def queries(path: Path) -> list[Query]:
    """Panel targets and template-variable queries of one dashboard file."""
    board = load(path)
    found: list[Query] = []
    for panel in panels(board):
        for target in panel.get("targets", []):
            uid = uid_of(target.get("datasource")) or uid_of(panel.get("datasource")) or ""
            where = f"panel {panel.get('title')!r} target {target.get('refId')}"
            found.append(Query(path.name, where, uid, target.get("expr", "")))
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        text = variable.get("query")
        text = text.get("query", "") if isinstance(text, dict) else text or ""
        uid = uid_of(variable.get("datasource")) or ""
        if uid == "prometheus":
            match = _LABEL_VALUES.match(text) or _QUERY_RESULT.match(text)
            if match is None:
                continue  # label_values(label) names no metric
            text = match.group(1)
        found.append(Query(path.name, f"variable {variable.get('name')!r}", uid, text))
    return found


def all_queries(uid: str | None = None) -> list[Query]:
    """Every query of every dashboard, optionally only those run by datasource ``uid``."""
    return [q for p in dashboard_files() for q in queries(p) if uid is None or q.uid == uid]
