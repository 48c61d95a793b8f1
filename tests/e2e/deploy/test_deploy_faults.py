"""Faults: what cannot be pulled, an edge whose configuration fails `nginx -t`, and a deploy
through a remote engine (DOCKER_HOST=ssh:// to this machine's engine)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from deploy_estate import Estate, drop_local, registry, run, section_for
from integration.core.test_dockerhost import ssh_host  # noqa: F401 - the sshd fixture
from test_deploy_bluegreen import deployment

from helpers import free_port, require_tool
from napops.deploy.engine import Deployer

pytestmark = pytest.mark.e2e


def login_config(where: Path, registry_addr: str, user: str, password: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (where / "config.json").write_text(json.dumps({"auths": {registry_addr: {"auth": auth}}}))
    return where


def test_pull_failures_fail_the_deploy_and_touch_nothing(
    world: Estate,
    images: dict[str, str],
    make_deployer: Callable[..., Deployer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    addr = images["v1"].split("/")[0]
    missing = make_deployer(section_for(world)).run(deployment(f"{addr}/deploy-e2e/app:v9"))
    assert missing.state == "failed" and "pull" in (missing.reason or "")
    assert "manifest unknown" in (missing.reason or "") or "not found" in (missing.reason or "")
    assert "nothing was changed" in (missing.reason or "")

    away = make_deployer(section_for(world)).run(deployment(f"127.0.0.1:{free_port()}/x/app:v1"))
    assert away.state == "failed" and "connection refused" in (away.reason or "").lower(), (
        away.reason
    )

    # a registry that requires credentials, given wrong ones
    with registry(tmp_path / "auth-registry", "deployer", "right-password") as private:
        good = login_config(tmp_path / "good", private, "deployer", "right-password")
        tag = f"{private}/deploy-e2e/app:v2"
        env = {**os.environ, "DOCKER_CONFIG": str(good)}
        subprocess.run(["docker", "tag", images["v2"], tag], check=False)
        run("docker", "pull", "-q", images["v2"])
        run("docker", "tag", images["v2"], tag)
        subprocess.run(["docker", "push", "-q", tag], env=env, check=True, capture_output=True)
        drop_local(tag, images["v2"])
        bad = login_config(tmp_path / "bad", private, "deployer", "wrong-password")
        monkeypatch.setenv("DOCKER_CONFIG", str(bad))
        refused = make_deployer(section_for(world)).run(deployment(tag))
        monkeypatch.setenv("DOCKER_CONFIG", str(good))
        allowed = make_deployer(section_for(world), state_dir=tmp_path / "s2")
        ok = allowed.run(deployment(tag))
        drop_local(tag)
    assert refused.state == "failed" and "pull" in (refused.reason or ""), refused.reason
    assert any(w in (refused.reason or "").lower() for w in ("unauthorized", "authentication")), (
        refused.reason
    )
    for dep in (missing, away, refused):
        assert [s["step"] for s in dep.steps] == ["blue", "pull"], dep.steps
    # the same registry with the right credentials works, so it was the credentials
    assert ok.state == "succeeded", ok.reason


def test_nginx_config_test_failure_fails_the_deploy_and_blue_keeps_serving(
    world: Estate, images: dict[str, str], make_deployer: Callable[..., Deployer]
) -> None:
    blue = world.inspect(f"{world.prefix}apps-backend-1")["Id"]
    broken = world.root / "nginx" / "conf.d" / "zz-broken.conf"
    broken.write_text("this is not nginx;\n")
    broken.chmod(0o644)
    try:
        dep = make_deployer(section_for(world)).run(deployment(images["v2"]))
    finally:
        broken.unlink()
    assert dep.state == "failed" and "nginx -t failed" in (dep.reason or ""), dep.reason
    assert "zz-broken.conf" in (dep.reason or "")
    (only,) = world.containers()
    assert world.inspect(only["ID"])["Id"] == blue
    assert world.get() == "v1"


def test_deploy_through_an_ssh_engine(
    world: Estate,
    images: dict[str, str],
    make_deployer: Callable[..., Deployer],
    ssh_host: str,  # noqa: F811 - the imported fixture
) -> None:
    require_tool("ssh")
    deployer = make_deployer(section_for(world, verify_seconds=1), docker={"host": ssh_host})
    dep = deployer.run(deployment(images["v2"]))
    assert dep.state == "succeeded", dep.reason
    assert world.get() == "v2"
    # (the sshd fixture then checks that the engine was reached through it)
