"""Loki keeps logs 90 days, and its compactor applies retention and delete requests.

Loki cannot run here, so the settings the estate relies on are checked in the parsed YAML.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from helpers import ROOT

LOKI = ROOT / "loki" / "loki.yml"
DATA = PurePosixPath("/loki")  # the data volume in the Compose stack


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LOKI.read_text(encoding="utf-8"))
    return data


def _paths(node: Any, key: str = "") -> list[tuple[str, str]]:
    """Every setting whose name says it is a path or directory, with its value."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, f"{key}.{k}" if key else k)
    elif isinstance(node, str) and key.rsplit(".", 1)[-1].endswith(
        ("directory", "path_prefix", "location")
    ):
        found.append((key, node))
    return found


def test_retention_is_90_days(config: dict[str, Any]) -> None:
    assert config["limits_config"]["retention_period"] == "2160h"


def test_compactor_applies_retention_and_deletes(config: dict[str, Any]) -> None:
    compactor = config["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"
    assert compactor["working_directory"]
    assert config["limits_config"]["deletion_mode"] == "filter-and-delete"


def test_schema_supports_retention(config: dict[str, Any]) -> None:
    schemas = config["schema_config"]["configs"]
    assert schemas, "a schema is required"
    latest = max(schemas, key=lambda s: str(s["from"]))
    assert latest["store"] == "tsdb"
    assert latest["schema"] == "v13"
    assert latest["index"]["period"] == "24h", "retention works on 24h index periods"
    assert latest["object_store"] == "filesystem"


def test_everything_written_lives_on_the_data_volume(config: dict[str, Any]) -> None:
    paths = _paths(config)
    assert len(paths) >= 6
    for key, value in paths:
        assert PurePosixPath(value).is_relative_to(DATA), f"{key}: {value} is off the volume"


def test_listens_where_alloy_and_grafana_expect(config: dict[str, Any]) -> None:
    assert config["server"]["http_listen_port"] == 3100
    assert config["auth_enabled"] is False
    assert config["analytics"]["reporting_enabled"] is False
