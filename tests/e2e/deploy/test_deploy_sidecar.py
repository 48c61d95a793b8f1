"""The deploy sidecar process: webhook to serving, replays, one deploy at a time per service,
services in parallel, and a sidecar killed in the middle of a deploy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from deploy_estate import Estate, section_for
from sidecar import HOOK_SECRET, TOKEN, Sidecar

from helpers import FIXTURES, wait_for
from napops.core.webhook import signature

pytestmark = pytest.mark.e2e


@pytest.fixture
def sidecar(world: Estate, images: dict[str, str], tmp_path: Path) -> Iterator[Sidecar]:
    registry = images["v1"].split("/")[0]
    section = section_for(world, verify_seconds=2)
    section["rules"] = [
        {
            "repository": "gitea/webhooks",
            "events": ["release"],
            "tag": "v*",
            "service": "backend",
            "environment": "e2e",
            "image": registry + "/deploy-e2e/app:{tag}",
        }
    ]
    car = Sidecar(tmp_path / "sidecar", section).start()
    try:
        yield car
    finally:
        car.stop()


def deliver(car: Sidecar, name: str, delivery: str | None = None) -> requests.Response:
    body = (FIXTURES / "gitea" / f"{name}.json").read_bytes()
    headers = {
        "Content-Type": "application/json",
        "X-Gitea-Event": name,
        "X-Gitea-Event-Type": name,
        "X-Gitea-Delivery": delivery or str(uuid.uuid4()),
        "X-Gitea-Signature": signature(body, HOOK_SECRET),
    }
    return requests.post(car.url + "/hooks/gitea", data=body, headers=headers, timeout=5)


def test_signed_release_webhook_deploys_its_image_and_a_replay_does_nothing(
    world: Estate, images: dict[str, str], sidecar: Sidecar
) -> None:
    delivery = str(uuid.uuid4())
    resp = deliver(sidecar, "release", delivery)
    assert resp.status_code == 202, resp.text
    dep = sidecar.wait_done(resp.json()["deployment"])
    assert dep["state"] == "succeeded", dep
    assert dep["image"] == images["v1.4.0"] and dep["trigger"] == "webhook"
    assert world.get() == "v2"  # v1.4.0 is v2
    again = deliver(sidecar, "release", delivery)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    listed = requests.get(sidecar.url + "/deployments", timeout=5).json()["deployments"]
    assert [d["id"] for d in listed] == [dep["id"]]
    metrics = requests.get(sidecar.url + "/metrics", timeout=5).text
    series = 'napops_deploy_deployments_total{environment="e2e",result="succeeded",'
    assert series + 'service="backend"} 1.0' in metrics
    assert f'image="{images["v1.4.0"]}"' in metrics


def test_two_webhooks_for_one_service_deploy_one_at_a_time_two_services_together(
    world: Estate, images: dict[str, str], sidecar: Sidecar
) -> None:
    first = deliver(sidecar, "release").json()["deployment"]
    second = deliver(sidecar, "release").json()["deployment"]
    front = sidecar.deploy("frontend", images["v2"])
    assert front.status_code == 202, front.text
    a, b = sidecar.wait_done(first), sidecar.wait_done(second)
    f = sidecar.wait_done(front.json()["deployment"])
    assert a["state"] == b["state"] == f["state"] == "succeeded", (a, b, f)
    # one at a time for backend: the second started after the first had finished
    assert b["started"] >= a["finished"] or a["started"] >= b["finished"]
    # frontend and the first backend deploy overlapped
    assert (
        f["started"] < max(a["finished"], b["finished"])
        and min(a["started"], b["started"]) < f["finished"]
    )
    assert len(world.containers("backend")) == len(world.containers("frontend")) == 1


def test_sidecar_killed_mid_deploy_recovers_lock_and_serves_one_known_version(
    world: Estate, images: dict[str, str], sidecar: Sidecar
) -> None:
    dep_id = sidecar.deploy("backend", images["v2"]).json()["deployment"]

    def switched() -> bool:
        doc = sidecar.deployment(dep_id)
        assert doc["state"] in ("queued", "running"), doc
        return any(s["step"] == "switch" for s in doc["steps"])

    wait_for(switched, timeout=120, interval=0.2, what="the switch")
    sidecar.kill()
    assert len(world.containers()) == 2  # blue and green both there
    sidecar.start()
    doc = sidecar.wait_done(dep_id, timeout=60)
    assert doc["state"] == "failed" and "interrupted by a restart" in doc["reason"], doc
    assert f"lock recovered from run {dep_id}" in doc["reason"]
    (only,) = world.containers()
    assert only["Names"] == f"{world.prefix}apps-backend-1" and only["State"] == "running"
    served = {world.get() for _ in range(20)}
    assert served == {"v1"}, served
    audit = [json.loads(line) for line in (sidecar.root / "audit.jsonl").read_text().splitlines()]
    assert any(r["action"] == "deploy_recover" for r in audit)
    # the lock is free again: a new deploy goes through
    again = sidecar.wait_done(sidecar.deploy("backend", images["v2"]).json()["deployment"])
    assert again["state"] == "succeeded", again


def test_cli_deploy_wait_status_and_rollback(
    world: Estate, images: dict[str, str], sidecar: Sidecar, tmp_path: Path
) -> None:
    import subprocess
    import sys

    token = tmp_path / "token"
    token.write_text(TOKEN)
    napops = str(Path(sys.executable).with_name("napops"))
    common = ["--env", "e2e", "--url", sidecar.url, "--token-file", str(token)]

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([napops, *argv], capture_output=True, text=True, timeout=300)

    done = cli("deploy", "backend", images["v2"], "--wait", *common)
    assert done.returncode == 0, done.stderr
    assert "switch: done" in done.stderr and "health: passed" in done.stderr
    assert done.stdout.startswith("succeeded: backend in e2e")
    assert world.get() == "v2"
    dep_id = done.stdout.strip().rsplit("(", 1)[1].rstrip(")")
    shown = cli("deploy", "status", dep_id, "--json", *common)
    assert shown.returncode == 0 and json.loads(shown.stdout)["state"] == "succeeded"
    failed = cli("deploy", "backend", images["v3"], "--wait", *common)
    assert failed.returncode == 1 and failed.stdout.startswith("failed:"), failed.stdout
    back = cli("rollback", "backend", "--wait", "--json", *common)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["image"] == images["v1"] and world.get() == "v1"
    bad = cli("deploy", "backend", "Not An Image", *common)
    assert bad.returncode == 2 and "At 'image'" in bad.stderr
