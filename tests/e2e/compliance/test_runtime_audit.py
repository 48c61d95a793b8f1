"""The runtime audit against the real engine: a deliberately insecure container fails each
corresponding check, a hardened one passes them all, and a waiver shows until it expires.

The sandbox these tests run in refuses to start a privileged container ("unable to apply
caps"), so `not_privileged` is proven on recorded inspect output in the unit tests instead."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from helpers import ROOT, require_docker, wait_for
from napops.compliance import runtime
from napops.compliance.audit import audit
from napops.compliance.policy import Policy, Waiver
from napops.core.dockerhost import Engine

pytestmark = pytest.mark.e2e
BASE = "napops-local/debian:bookworm"


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    require_docker()
    eng = Engine()
    try:
        base = eng.client.images.get(BASE)
    except Exception:  # noqa: BLE001
        pytest.fail(f"{BASE} is missing: run `make images` first")
    base.tag("napops-test-compliance", "1.0")
    base.tag("napops-test-compliance", "latest")
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def pair(engine: Engine) -> Iterator[str]:
    tag = f"compliance-{uuid.uuid4().hex[:8]}"
    labels = {"napops.test": tag}
    made = []
    insecure = engine.client.containers.run(
        "napops-test-compliance:latest",
        ["sleep", "300"],
        name=f"napops-test-{tag}-insecure",
        detach=True,
        network_mode="host",
        environment={"DB_PASSWORD": "hunter2-is-a-bad-password"},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        labels={**labels, "com.docker.compose.service": "insecure"},
        log_config={"type": "json-file", "config": {}},
    )
    made.append(insecure)
    hardened = engine.client.containers.run(
        "napops-test-compliance:1.0",
        ["sleep", "300"],
        name=f"napops-test-{tag}-hardened",
        detach=True,
        user="65532:65532",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        mem_limit="64m",
        nano_cpus=250_000_000,
        pids_limit=64,
        restart_policy={"Name": "unless-stopped"},
        healthcheck={"test": ["CMD", "true"], "interval": 1_000_000_000, "retries": 1},
        ports={"8080/tcp": ("127.0.0.1", None)},
        environment={"TOKEN_FILE": "/run/secrets/token"},
        labels={**labels, "com.docker.compose.service": "hardened"},
        log_config={"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}},
    )
    made.append(hardened)
    wait_for(lambda: engine.health(hardened.name) == "healthy", timeout=30, what="healthy")
    yield tag
    for c in made:
        c.remove(force=True)


def results(
    engine: Engine, tag: str, policy: Policy, today: dt.date | None = None
) -> dict[str, dict[str, str]]:
    found = runtime.workloads(engine, {"napops.test": tag})
    out: dict[str, dict[str, str]] = {}
    for f in audit(found, policy, today):
        out.setdefault(f.service, {})[f.check] = f.result
    return out


def test_insecure_fails_each_check_and_hardened_passes_all(engine: Engine, pair: str) -> None:
    got = results(engine, pair, Policy())
    bad = {check for check, result in got["insecure"].items() if result == "fail"}
    assert bad == {
        "user_non_root",
        "capabilities",
        "no_new_privileges",
        "read_only_rootfs",
        "memory_limit",
        "cpu_limit",
        "pids_limit",
        "healthcheck_defined",
        "restart_policy",
        "host_network",
        "docker_socket",
        "image_pinned",
        "log_rotation",
        "env_secrets",
    }
    assert {r for r in got["hardened"].values()} == {"pass"}


def test_a_waiver_shows_as_waived_until_its_expiry(engine: Engine, pair: str) -> None:
    waiver = Waiver(
        "host_network",
        "insecure",
        None,
        "test waiver for the host network one",
        dt.date(2030, 1, 1),
    )
    policy = Policy(waivers=[waiver])
    assert (
        results(engine, pair, policy, dt.date(2029, 12, 31))["insecure"]["host_network"] == "waived"
    )
    assert results(engine, pair, policy, dt.date(2030, 1, 2))["insecure"]["host_network"] == "fail"


def test_the_cli_exits_1_and_never_prints_the_secret(engine: Engine, pair: str, tmp_path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("{}\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "napops.cli",
            "audit",
            "--runtime",
            "--json",
            "--policy",
            str(policy),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stderr
    assert "hunter2" not in proc.stdout
    findings = [
        f for f in json.loads(proc.stdout) if f["container"] == f"napops-test-{pair}-insecure"
    ]
    assert {f["check"] for f in findings if f["result"] == "fail"} >= {
        "host_network",
        "env_secrets",
    }


def test_an_unreachable_engine_is_exit_2_with_a_reason(tmp_path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("{}\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "napops.cli",
            "audit",
            "--runtime",
            "--policy",
            str(policy),
            "--docker-host",
            "tcp://127.0.0.1:1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "cannot reach the engine" in proc.stderr
    assert "Traceback" not in proc.stderr
