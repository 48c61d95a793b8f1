"""Every metric a dashboard reads is exported by some component of the stack.

The names come from real components where they run here (Prometheus, Alertmanager, node and
blackbox exporters, scraped by a real Prometheus; the napops sidecars built in-process), from
the project's recording rules, and for what cannot run here from catalogue/*.txt.
"""

from __future__ import annotations

import pytest
from exported_metrics import (
    SIDECARS,
    catalogue_files,
    catalogue_names,
    recording_rule_names,
    sidecar_names,
)
from grafana_dashboards import all_queries
from promql_names import metric_names
from real_stack import metric_names_in, running_stack


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Metric names by where they come from."""
    sources: dict[str, set[str]] = {}
    with running_stack(tmp_path_factory.mktemp("stack")) as prometheus:
        sources["prometheus (scraping prometheus, alertmanager, node, blackbox)"] = metric_names_in(
            prometheus
        )
    for service, names in sidecar_names(tmp_path_factory.mktemp("sidecars")).items():
        sources[f"napops {service} sidecar"] = names
    sources["prometheus/rules recording rules"] = recording_rule_names()
    for path in catalogue_files():
        sources[f"catalogue {path.name}"] = catalogue_names(path)
    return sources


def test_catalogues_name_their_upstream_source() -> None:
    assert catalogue_files(), "cAdvisor and the database exporters need catalogues"
    for path in catalogue_files():
        header = [line for line in path.read_text().splitlines() if line.startswith("#")]
        assert any(line.startswith("# source: ") for line in header), path.name
        assert catalogue_names(path), f"{path.name} lists no metric"


@pytest.mark.integration
def test_every_sidecar_exports_build_info(exported: dict[str, set[str]]) -> None:
    for service in SIDECARS:
        assert "napops_build_info" in exported[f"napops {service} sidecar"], service


@pytest.mark.integration
def test_every_dashboard_metric_is_exported(exported: dict[str, set[str]]) -> None:
    known = set().union(*exported.values())
    missing: list[str] = []
    checked = 0
    for query in all_queries("prometheus"):
        for name in sorted(metric_names(query.promql)):
            checked += 1
            if name not in known:
                missing.append(f"{query.dashboard} {query.where}: {name}")
    assert checked > 100
    assert not missing, "metrics no component exports:\n" + "\n".join(missing)


@pytest.mark.integration
def test_the_real_components_were_all_seen(exported: dict[str, set[str]]) -> None:
    """Guards the test itself: an empty source would let unknown names slip through."""
    real = exported["prometheus (scraping prometheus, alertmanager, node, blackbox)"]
    for prefix in ("node_", "probe_", "alertmanager_", "prometheus_", "scrape_"):
        assert any(n.startswith(prefix) for n in real), prefix


def _sources_of(name: str, exported: dict[str, set[str]]) -> list[str]:
    return [source for source, names in exported.items() if name in names]


@pytest.mark.integration
def test_probe_tls_series_come_from_a_real_probe(exported: dict[str, set[str]]) -> None:
    sources = _sources_of("probe_ssl_earliest_cert_expiry", exported)
    assert sources == ["prometheus (scraping prometheus, alertmanager, node, blackbox)"]
