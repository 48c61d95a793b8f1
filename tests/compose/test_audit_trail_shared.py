"""One audit trail per host: every sidecar appends to the same file in one shared volume, so
one `napops trail verify` covers every action of the host (docs/audit.md)."""

from __future__ import annotations

import pytest
import yaml
from compose_render import COMPOSE, ENVS, render

from helpers import SIDECARS, require_docker


def audit_path(service: str) -> str:
    config = yaml.safe_load((COMPOSE / "config" / "napops" / f"{service}.yml").read_text())
    return str(config["audit"]["path"])


def test_every_sidecar_config_names_the_one_trail() -> None:
    paths = {audit_path(s) for s in SIDECARS}
    assert paths == {"/var/lib/napops/audit/audit.jsonl"}


@pytest.mark.parametrize("env", ENVS)
def test_every_sidecar_mounts_the_shared_audit_volume(env: str) -> None:
    require_docker()
    model = render("napops", env)
    for service in SIDECARS:
        mounts = {
            (m.get("source"), m["target"])
            for m in model["services"][service]["volumes"]
            if m["type"] == "volume"
        }
        assert ("audit-data", "/var/lib/napops/audit") in mounts, (env, service)
