"""Pure parts: the relay notice of an outcome (checked by the relay's own parser), green's
configuration from blue's inspect document, and the persisted state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from napops.deploy.notify import payload
from napops.deploy.spec import SpecError, create_body, green_spec
from napops.deploy.state import Deployment, State
from napops.relay.payload import parse


def dep(state: str, reason: str | None = None) -> Deployment:
    d = Deployment("20261202T000000-abcd1234", "backend", "prod", "reg/app:v2", "webhook")
    d.state, d.reason, d.started, d.finished = state, reason, 1_700_000_000.0, 1_700_000_030.0
    d.previous_image = "reg/app:v1"
    return d


@pytest.mark.parametrize(
    ("state", "name", "status"),
    [
        ("succeeded", "NapopsDeploy", "resolved"),
        ("failed", "NapopsDeployFailed", "firing"),
        ("rolled_back", "NapopsDeployRolledBack", "firing"),
    ],
)
def test_outcome_notice_is_a_valid_alertmanager_message(state: str, name: str, status: str) -> None:
    body = json.dumps(payload(dep(state, "health gate: HTTP 503"))).encode()
    parsed = parse(body)  # the relay's validation of POST /alertmanager
    (alert,) = parsed["alerts"]
    assert parsed["status"] == alert["status"] == status
    assert alert["labels"]["alertname"] == name and alert["labels"]["service"] == "backend"
    assert parsed["groupKey"].endswith("20261202T000000-abcd1234")
    assert "reg/app:v2" in alert["annotations"]["summary"]


def blue_doc() -> tuple[dict[str, Any], dict[str, Any]]:
    blue = {
        "Id": "a" * 64,
        "Name": "/napops-prod-apps-backend-1",
        "Image": "sha256:" + "1" * 64,
        "Config": {
            "Image": "reg/app:v1",
            "Env": ["PATH=/usr/bin", "APP_VERSION=v1", "DB_HOST=mariadb", "PATH2=x"],
            "Cmd": ["python3", "/app.py"],
            "Labels": {
                "com.docker.compose.project": "napops-prod-apps",
                "com.docker.compose.service": "backend",
                "org.opencontainers.image.version": "v1",
            },
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000_000},
            "User": "65532:65532",
            "StopTimeout": None,
        },
        "HostConfig": {
            "NetworkMode": "napops-prod-edge",
            "ReadonlyRootfs": True,
            "CapDrop": ["ALL"],
            "Memory": 100,
            "Mounts": [{"Type": "volume", "Source": "files", "Target": "/app/uploads"}],
            "PortBindings": {},
        },
        "NetworkSettings": {
            "Networks": {
                "napops-prod-edge": {
                    "Aliases": ["napops-prod-apps-backend-1", "backend", "aaaaaaaaaaaa"]
                },
                "napops-prod-data": {"Aliases": ["backend", "api"]},
            }
        },
    }
    image = {
        "Config": {
            "Env": ["PATH=/usr/bin", "APP_VERSION=v1"],
            "Cmd": ["python3", "/app.py"],
            "Labels": {"org.opencontainers.image.version": "v1"},
            "User": "65532:65532",
        }
    }
    return blue, image


def test_green_keeps_what_blue_was_given_and_drops_what_its_image_gave() -> None:
    blue, image = blue_doc()
    spec = green_spec(blue, image, "reg/app:v2", "napops-prod-apps-backend-1-next")
    assert spec.config["Image"] == "reg/app:v2"
    assert spec.config["Env"] == ["DB_HOST=mariadb", "PATH2=x"]  # v1's ENV left to v2's image
    assert "Cmd" not in spec.config and "User" not in spec.config  # the image's own
    assert spec.config["Healthcheck"]["Test"] == ["CMD", "true"]
    assert spec.config["Labels"] == {
        "com.docker.compose.project": "napops-prod-apps",
        "com.docker.compose.service": "backend",
    }
    assert (
        spec.host_config["ReadonlyRootfs"]
        and spec.host_config["Mounts"][0]["Target"] == "/app/uploads"
    )
    # aliases green gets at the switch: blue's, without its name and short id
    assert spec.networks == {
        "napops-prod-edge": ["backend"],
        "napops-prod-data": ["backend", "api"],
    }
    body = create_body(spec)
    # created on one network, with no alias: nothing reaches green before the switch
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"napops-prod-edge": {}}}


def test_a_service_with_published_ports_cannot_have_a_twin() -> None:
    blue, image = blue_doc()
    blue["HostConfig"]["PortBindings"] = {"80/tcp": [{"HostIp": "", "HostPort": "80"}]}
    with pytest.raises(SpecError, match="publishes host ports"):
        green_spec(blue, image, "reg/app:v2", "x-next")


def test_state_survives_reopening(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite3")
    d = dep("running")
    state.save(d)
    state.set_live(
        "backend", "prod", image="reg/app:v2", requested="reg/app:v2", previous="reg/app:v1"
    )
    assert state.first_delivery("x") and not state.first_delivery("x")
    state.close()
    again = State(tmp_path / "s.sqlite3")
    assert [x.id for x in again.active()] == [d.id]
    assert again.live_of("backend", "prod")["previous"] == "reg/app:v1"
    assert not again.first_delivery("x")
