"""Datasources and dashboards are what Grafana's file provisioning needs, with fixed uids."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_dashboards import (
    DATASOURCES,
    FIXED_UIDS,
    PROVIDERS,
    dashboard_files,
    load,
    panels,
    uid_of,
)

# The dashboards the estate needs (issue 4); each file is one of them.
EXPECTED = {
    "overview",
    "hosts",
    "containers",
    "databases",
    "backups",
    "certificates",
    "deployments",
    "compliance",
    "logs",
}


def _datasources() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(DATASOURCES.glob("*.y*ml")):
        found += yaml.safe_load(path.read_text(encoding="utf-8")).get("datasources", [])
    return found


def test_datasources_have_the_fixed_uids_and_compose_urls() -> None:
    by_uid = {d["uid"]: d for d in _datasources()}
    assert set(by_uid) == FIXED_UIDS
    assert by_uid["prometheus"]["type"] == "prometheus"
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090"
    assert by_uid["loki"]["type"] == "loki"
    assert by_uid["loki"]["url"] == "http://loki:3100"
    assert by_uid["alertmanager"]["type"] == "alertmanager"
    assert by_uid["alertmanager"]["url"] == "http://alertmanager:9093"
    assert [d["uid"] for d in _datasources() if d.get("isDefault")] == ["prometheus"]


def test_no_datasource_carries_a_credential() -> None:
    for source in _datasources():
        assert "secureJsonData" not in source, source["uid"]
        assert "basicAuthPassword" not in source, source["uid"]


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    providers = []
    for path in sorted(PROVIDERS.glob("*.y*ml")):
        providers += yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]
    assert [p["options"]["path"] for p in providers] == ["/etc/grafana/dashboards"]
    assert all(p["type"] == "file" for p in providers)


def test_every_expected_dashboard_exists() -> None:
    assert {p.stem for p in dashboard_files()} == EXPECTED


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_dashboard_is_valid_for_provisioning(path: Path) -> None:
    board = load(path)
    for key in ("uid", "title", "panels", "schemaVersion"):
        assert board.get(key), f"{path.name}: missing {key}"
    assert len(board["uid"]) <= 40, "Grafana rejects uids longer than 40 characters"
    assert isinstance(board["schemaVersion"], int)
    assert board.get("description"), "say what the dashboard is for"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
    for panel in panels(board):
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, f"{panel['title']}: off the grid"


def test_dashboard_uids_and_titles_are_unique() -> None:
    boards = [load(p) for p in dashboard_files()]
    uids = [b["uid"] for b in boards]
    titles = [b["title"] for b in boards]
    assert len(uids) == len(set(uids))
    assert len(titles) == len(set(titles))


def _datasource_refs(node: Any, where: str) -> list[tuple[str, Any]]:
    """Every ``datasource`` value anywhere in the JSON, with where it was found."""
    refs: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                refs.append((where, value))
            refs += _datasource_refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            refs += _datasource_refs(value, f"{where}[{i}]")
    return refs


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_dashboard_uses_datasources_only_by_fixed_uid(path: Path) -> None:
    board = load(path)
    for where, ref in _datasource_refs(board, path.stem):
        assert isinstance(ref, dict), f"{where}: datasource by name, not by uid: {ref!r}"
        assert uid_of(ref) in FIXED_UIDS, f"{where}: unknown datasource uid {ref!r}"
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert uid_of(panel.get("datasource")) in FIXED_UIDS, f"{panel['title']}: no datasource"
        for target in panel.get("targets", []):
            assert uid_of(target.get("datasource")) in FIXED_UIDS, panel["title"]
            assert target.get("expr"), f"{panel['title']}: empty query"


def test_provisioning_expands_only_environment_variables() -> None:
    """Grafana expands $VAR / ${VAR} in provisioning files; a literal $ must be written $$."""
    for path in sorted((DATASOURCES.parent).glob("*/*.y*ml")):
        text = path.read_text(encoding="utf-8").replace("$$", "")
        for name in re.findall(r"\$\{?([^}\s'\"]*)", text):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"{path.name}: ${name} gets expanded"
