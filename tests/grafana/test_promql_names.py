"""The PromQL metric-name extractor the dashboard test relies on."""

from __future__ import annotations

import pytest
from promql_names import metric_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('probe_success{instance=~"https://.*", job="x"}', {"probe_success"}),
        (
            "sum by (instance) (rate(node_cpu_seconds_total{mode!='idle'}[5m]))",
            {"node_cpu_seconds_total"},
        ),
        ("sum(rate(foo_total[1m])) by (job)", {"foo_total"}),
        (
            "histogram_quantile(0.95, sum by (le) (rate(x_seconds_bucket[5m])))",
            {"x_seconds_bucket"},
        ),
        ("a / on (instance) group_left (service) b", {"a", "b"}),
        ("a and ignoring (mode) b unless c", {"a", "b", "c"}),
        ("count(up == 0) or vector(0)", {"up"}),
        ("time() - node_boot_time_seconds offset 1h", {"node_boot_time_seconds"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
        ('{__name__="job:up:ratio", x="y"}', {"job:up:ratio"}),
        ("max_over_time(deriv(g[10m:1m])[1h:]) > 1e6", {"g"}),
        ('count_values("version", napops_build_info)', {"napops_build_info"}),
        ("topk(3, sum without (cpu) (c))", {"c"}),
        ("a @ start()", {"a"}),
        ('x{l="}"} # a comment naming not_a_metric\n + 0x1F', {"x"}),
    ],
)
def test_names_are_found_and_nothing_else(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
