"""POST /hooks/gitea with the real fixture payloads: auth, bad input, replays, dispatch."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from helpers import FIXTURES
from napops.core.http import create_app
from napops.core.webhook import signature
from napops.deploy import receiver
from napops.deploy.engine import Busy, Settings
from napops.deploy.metrics import DeployMetrics
from napops.deploy.state import Deployment, State

SECRET = "s3cret-of-the-webhooks-repo"
RULES = [
    {
        "repository": "gitea/webhooks",
        "events": ["release", "package"],
        "tag": "v*",
        "service": "backend",
        "environment": "prod",
        "image": "127.0.0.1:5000/nap/backend:{tag}",
    }
]


class Submitter:
    """The deployer's submit boundary: records what the receiver queued."""

    def __init__(self, section: dict[str, Any]) -> None:
        self.settings = Settings(section)
        self.queued: list[Deployment] = []
        self.busy = False

    def submit(self, dep: Deployment) -> Deployment:
        if self.busy:
            raise Busy(f"{dep.service} in {dep.environment} is being deployed")
        self.queued.append(dep)
        return dep


@pytest.fixture
def setup(tmp_path: Path) -> tuple[FlaskClient, Submitter, Path]:
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    section = {
        "webhook": {"secrets": {"gitea/webhooks": str(secret)}, "max_body_bytes": 8192},
        "rules": RULES,
        "token": "t" * 20,
        "services": {"backend": {"stack": "apps"}},
        "environments": {"prod": {"edge": {"project": "p"}}},
    }
    registry = CollectorRegistry()
    app = create_app("deploy", registry)
    sub = Submitter(section)
    state = State(tmp_path / "state.sqlite3")
    receiver.register(app, section, state, sub, DeployMetrics(registry))  # type: ignore[arg-type]
    return app.test_client(), sub, tmp_path


def body_of(name: str) -> bytes:
    return (FIXTURES / "gitea" / f"{name}.json").read_bytes()


def headers(
    body: bytes, event: str, delivery: str | None = None, secret: str = SECRET
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Gitea-Event": "" if event == "package" else event,
        "X-Gitea-Event-Type": event,
        "X-Gitea-Delivery": delivery or str(uuid.uuid4()),
        "X-Gitea-Signature": signature(body, secret),
    }


def post(client: FlaskClient, body: bytes, hdrs: dict[str, str]) -> Any:
    return client.post("/hooks/gitea", data=body, headers=hdrs)


def test_signed_release_queues_a_deployment_of_its_image(setup: Any) -> None:
    client, sub, _ = setup
    body = body_of("release")
    resp = post(client, body, headers(body, "release"))
    assert resp.status_code == 202, resp.json
    assert resp.json["status"] == "queued"
    (dep,) = sub.queued
    assert resp.json["deployment"] == dep.id
    assert (dep.service, dep.environment, dep.image) == (
        "backend",
        "prod",
        "127.0.0.1:5000/nap/backend:v1.4.0",
    )
    assert client.get(f"/deployments/{dep.id}").status_code == 404  # the submitter did not save


def test_package_event_with_empty_x_gitea_event_is_dispatched_on_the_event_type(setup: Any) -> None:
    client, sub, _ = setup
    body = body_of("package")
    resp = post(client, body, headers(body, "package"))
    assert resp.status_code == 202 and resp.json["status"] == "queued"
    assert sub.queued[0].image.endswith(":v1.4.0")


@pytest.mark.parametrize("signature_value", [None, "", "0" * 64, "sha256=" + "1" * 64])
def test_wrong_or_missing_signature_is_401_and_queues_nothing(
    setup: Any, signature_value: str | None
) -> None:
    client, sub, _ = setup
    body = body_of("release")
    hdrs = headers(body, "release")
    if signature_value is None:
        del hdrs["X-Gitea-Signature"]
    else:
        hdrs["X-Gitea-Signature"] = signature_value
    resp = post(client, body, hdrs)
    assert resp.status_code == 401 and "Signature" in resp.json["reason"]
    assert sub.queued == []


def test_signature_made_with_another_secret_is_refused(setup: Any) -> None:
    client, sub, _ = setup
    body = body_of("release")
    resp = post(client, body, headers(body, "release", secret="another"))
    assert resp.status_code == 401 and sub.queued == []


def test_unknown_repository_has_no_secret_401(setup: Any) -> None:
    client, sub, _ = setup
    payload = json.loads(body_of("release"))
    payload["repository"]["full_name"] = "someone/else"
    body = json.dumps(payload).encode()
    resp = post(client, body, headers(body, "release"))
    assert resp.status_code == 401 and "someone/else" in resp.json["reason"]
    assert sub.queued == []


def test_non_json_bodies(setup: Any) -> None:
    client, sub, _ = setup
    body = b"ref=refs/heads/main"
    hdrs = headers(body, "push") | {"Content-Type": "application/x-www-form-urlencoded"}
    assert post(client, body, hdrs).status_code == 415
    body = b"{not json"
    resp = post(client, body, headers(body, "push"))
    assert resp.status_code == 400 and "not JSON" in resp.json["reason"]
    assert sub.queued == []


def test_unknown_event_and_missing_delivery(setup: Any) -> None:
    client, sub, _ = setup
    body = body_of("release")
    resp = post(client, body, headers(body, "issues"))
    assert resp.status_code == 400 and "unknown event type 'issues'" in resp.json["reason"]
    hdrs = headers(body, "release")
    del hdrs["X-Gitea-Delivery"]
    assert post(client, body, hdrs).status_code == 400
    assert sub.queued == []


def test_oversized_body_is_413(setup: Any) -> None:
    client, sub, _ = setup
    payload = json.loads(body_of("release"))
    payload["release"]["body"] = "x" * 10000
    body = json.dumps(payload).encode()
    resp = post(client, body, headers(body, "release"))
    assert resp.status_code == 413 and sub.queued == []


def test_tag_matching_no_rule_is_202_ignored_with_the_reason(setup: Any) -> None:
    client, sub, _ = setup
    payload = json.loads(body_of("release"))
    payload["release"]["tag_name"] = "nightly-7"
    body = json.dumps(payload).encode()
    resp = post(client, body, headers(body, "release"))
    assert resp.status_code == 202
    assert resp.json["status"] == "ignored" and "nightly-7" in resp.json["reason"]
    assert sub.queued == []


def test_replayed_delivery_does_nothing_even_after_a_restart(setup: Any) -> None:
    client, sub, tmp = setup
    body = body_of("release")
    hdrs = headers(body, "release", delivery="f6266f16-1bf3-46a5-9ea4-602e06ead473")
    assert post(client, body, hdrs).status_code == 202
    assert post(client, body, hdrs).json["status"] == "duplicate"
    # a new receiver on the same state file (the sidecar restarted)
    registry = CollectorRegistry()
    app = create_app("deploy", registry)
    state = State(tmp / "state.sqlite3")
    receiver.register(app, sub.settings.section, state, sub, DeployMetrics(registry))  # type: ignore[arg-type]
    again = post(app.test_client(), body, hdrs)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert len(sub.queued) == 1


def test_api_deploy_needs_the_token_and_answers_409_when_busy(setup: Any) -> None:
    client, sub, _ = setup
    body = {"service": "backend", "image": "127.0.0.1:5000/nap/backend:v2", "environment": "prod"}
    assert client.post("/deployments", json=body).status_code == 401
    auth = {"Authorization": "Bearer " + "t" * 20}
    resp = client.post("/deployments", json=body, headers=auth)
    assert resp.status_code == 202 and resp.json["deployment"] == sub.queued[0].id
    sub.busy = True
    resp = client.post("/deployments", json=body, headers=auth)
    assert resp.status_code == 409 and "being deployed" in resp.json["reason"]
    bad = client.post("/deployments", json={**body, "image": "Bad Image"}, headers=auth)
    assert bad.status_code == 400 and "At 'image'" in bad.json["reason"]
    unknown = client.post("/deployments", json={**body, "service": "nope"}, headers=auth)
    assert unknown.status_code == 400 and "unknown service 'nope'" in unknown.json["reason"]
