"""Every PromQL expression of every dashboard parses, checked by promtool.

promtool has no command that only parses an expression, so each expression (with Grafana's
template variables replaced by valid values) becomes a recording rule named ``q_<n>`` in a
temporary rules file, and ``promtool check rules`` parses them all.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from grafana_dashboards import all_queries

from helpers import require_tool


def test_every_dashboard_promql_expression_parses(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    queries = all_queries("prometheus")
    assert len(queries) > 50, "the dashboards hold far more queries than this"
    rules = [{"record": f"q_{i}", "expr": q.promql} for i, q in enumerate(queries)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        # promtool names the rule (q_<n>) or its index; say which dashboard query that is.
        out = done.stdout + done.stderr
        bad = {int(n) for n in re.findall(r"q_(\d+)", out)}
        bad |= {int(n) - 1 for n in re.findall(r"rule (\d+)", out)}
        lines = [f"{queries[i].dashboard} {queries[i].where}: {queries[i].expr}" for i in bad]
        raise AssertionError("promtool rejected:\n" + out + "\n" + "\n".join(sorted(lines)))
    assert f"{len(queries)} rules found" in done.stdout
