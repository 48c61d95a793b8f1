"""Log lines and relay messages speak one time zone: every napops container's TZ is the
relay's configured `timezone` (core/logs.py writes the offset in every line too)."""

from __future__ import annotations

import pytest
import yaml
from compose_render import COMPOSE, ENVS, render

from helpers import SIDECARS, require_docker


@pytest.mark.parametrize("env", ENVS)
def test_every_sidecar_logs_in_the_relays_time_zone(env: str) -> None:
    require_docker()
    relay = yaml.safe_load((COMPOSE / "config" / "napops" / "relay.yml").read_text())
    zone = relay["relay"]["timezone"]
    model = render("napops", env)
    for service in SIDECARS:
        assert model["services"][service]["environment"].get("TZ") == zone, (env, service)
