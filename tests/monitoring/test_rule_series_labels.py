"""Every series a promtool rule test feeds carries the labels a real scrape gives it.

A rule test that invents labels (``job="relay"`` where the real job is ``napops`` with a
``sidecar`` label) proves nothing about the alerts Prometheus will raise. The real labels come
from prometheus.yml and the target files of every environment (scrape_labels.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from monitoring_files import RULE_TESTS, load_yaml
from scrape_labels import Target, mismatch, parse_series, real_targets, relabel

TARGETS = list(real_targets())


def fed_series() -> list[tuple[str, str]]:
    return [
        (path.name, item["series"])
        for path in sorted(RULE_TESTS.glob("*.test.yml"))
        for test in load_yaml(path)["tests"]
        for item in test.get("input_series", [])
    ]


@pytest.mark.parametrize(("file", "series"), fed_series())
def test_rule_test_series_carry_real_scrape_labels(file: str, series: str) -> None:
    _name, labels = parse_series(series)
    assert mismatch(labels, TARGETS) is None, f"{file}: {series}: {mismatch(labels, TARGETS)}"


def test_the_label_model_knows_the_real_labels() -> None:
    """The checker itself: the relay is job napops with a sidecar label, a store probe names
    its prober, and a made-up relay job is refused."""
    relay = {"job": "napops", "instance": "relay:8000", "host": "asustor", "sidecar": "relay"}
    assert mismatch(relay, TARGETS) is None
    assert "not a job" in (mismatch({**relay, "job": "relay"}, TARGETS) or "")
    no_sidecar = {k: v for k, v in relay.items() if k != "sidecar"}
    assert "sidecar" in (mismatch(no_sidecar, TARGETS) or "")
    probe = {
        "job": "blackbox-tcp",
        "instance": "mariadb:3306",
        "host": "qnap",
        "service": "mariadb",
        "prober": "qnap:9116",
    }
    assert mismatch(probe, TARGETS) is None
    assert mismatch({**probe, "prober": "blackbox-exporter:9115"}, TARGETS) is not None
    assert any(t == Target("prod", probe) for t in TARGETS)


def test_relabel_model_follows_prometheus_semantics() -> None:
    rules = [
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": "bb:9115"},
        {"source_labels": ["__prober"], "regex": "(.+)", "target_label": "__address__"},
    ]
    out = relabel({"__address__": "db:1", "__prober": "q:9116"}, rules)
    assert out is not None
    assert (out["instance"], out["__address__"]) == ("db:1", "q:9116")
    out = relabel({"__address__": "db:1"}, rules)
    assert out is not None
    assert out["__address__"] == "bb:9115"  # regex (.+) does not match an empty __prober
    assert relabel({"a": "x"}, [{"action": "keep", "source_labels": ["a"], "regex": "y"}]) is None
    with pytest.raises(ValueError, match="not a series"):
        parse_series("up{")
    assert parse_series('up{a="1", b="x,y"}') == ("up", {"a": "1", "b": "x,y"})
    assert Path(__file__).name.startswith("test_")
