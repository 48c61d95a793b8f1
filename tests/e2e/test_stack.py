"""End to end on the real Docker Engine: `make up` / `make down` of the local stack.

One stack is started for the module under a project name of its own (napops-e2e-<pid>) with
free published ports, so it runs beside a developer's stack. The tests run in file order: the
last one takes the stack down and checks that nothing of it is left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.stackrun import EXPECTED_TARGETS, SIDECARS, Stack, targets_up

from helpers import ROOT, require_docker, require_tool, wait_for

pytestmark = pytest.mark.e2e

IMAGE_ENV = ROOT / "compose" / ".images.env"


def napops_image() -> str:
    """The napops image tag that `make images` wrote to compose/.images.env (built if needed)."""
    proc = subprocess.run(
        [str(ROOT / "compose" / "bin" / "build-images")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    for line in IMAGE_ENV.read_text().splitlines():
        if line.startswith("NAPOPS_IMAGE="):
            return line.split("=", 1)[1]
    raise AssertionError("compose/.images.env names no NAPOPS_IMAGE")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_docker()
    require_tool("make")
    require_tool("mmdebstrap")
    st = Stack(f"napops-e2e-{os.getpid()}")
    st.make("down-purge")  # a clean state, whatever an earlier run left
    assert st.ids("container") == []
    try:
        up = st.up_output = st.make("up")
        assert up.returncode == 0, f"make up failed:\n{up.stdout}\n{up.stderr}"
        yield st
    finally:
        st.make("down-purge")  # a half-started stack too: nothing is left behind


def test_make_up_prints_where_to_look_and_what_it_left_out(stack: Stack) -> None:
    assert stack.up_output is not None
    out = stack.up_output.stdout
    assert f"http://127.0.0.1:{stack.prometheus_port}/targets" in out
    assert f"http://127.0.0.1:{stack.alertmanager_port}/" in out
    for missing in ("grafana", "loki", "alloy", "cadvisor"):
        assert f"  {missing} (" in out, f"no notice that {missing} was left out"


def test_prometheus_reports_every_sidecar_and_exporter_up(stack: Stack) -> None:
    state = wait_for(
        lambda: (s := targets_up(stack)) and all(s.values()) and s,
        timeout=90,
        interval=1,
        what=f"up == 1 for {', '.join(EXPECTED_TARGETS)}",
    )
    assert set(state) == set(EXPECTED_TARGETS)


@pytest.mark.parametrize("service", SIDECARS)
def test_sidecar_runs_non_root_with_read_only_root(stack: Stack, service: str) -> None:
    info = stack.container(service)
    assert info["Config"]["User"] == "65532:65532"
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["HostConfig"]["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in info["HostConfig"]["SecurityOpt"]
    assert info["State"]["Health"]["Status"] == "healthy"
    # what the process really is and can do, not only what was asked for
    uid = stack.docker("exec", info["Id"], "python3", "-c", "import os; print(os.getuid())")
    assert uid.strip() == "65532"
    write = subprocess.run(
        ["docker", "exec", info["Id"], "python3", "-c", "open('/opt/napops/x', 'w')"],
        capture_output=True,
        text=True,
    )
    assert write.returncode != 0 and "Read-only file system" in write.stderr


@pytest.mark.parametrize("service", ["deploy", "backup", "compliance"])
def test_sidecar_reaches_docker_through_its_socket_proxy(stack: Stack, service: str) -> None:
    info = stack.container(service)
    assert not any(m["Source"].endswith("docker.sock") for m in info["Mounts"])
    ready = stack.docker(
        "exec",
        info["Id"],
        "python3",
        "-c",
        "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/readyz').read())",
    )
    assert '"docker":"ok"' in ready


def test_read_only_proxy_refuses_writes_and_exec(stack: Stack) -> None:
    # one list call and the sidecar's own container: the engine is shared with other tests,
    # whose containers may go between a list and an inspect of each
    own = stack.container("compliance")["Id"]
    probe = (
        "import docker\n"
        "c = docker.DockerClient('tcp://socket-proxy:2375')\n"
        "print('list', len(c.api.containers()))\n"
        f"print('inspect', c.api.inspect_container({own!r})['Id'][:12])\n"
        "for name, call in (('create', lambda: c.containers.create('x')),\n"
        f"                   ('exec', lambda: c.api.exec_create({own!r}, 'id'))):\n"
        "    try:\n"
        "        call(); print(name, 'allowed')\n"
        "    except docker.errors.APIError as e:\n"
        "        print(name, e.status_code)\n"
    )
    out = stack.docker("exec", own, "python3", "-c", probe)
    assert f"inspect {own[:12]}" in out, out
    assert "create 403" in out and "exec 403" in out, out
    assert "list " in out


def test_make_demo_shows_the_alert_arrive_by_email_and_rocket_chat(stack: Stack) -> None:
    # issue 12: right after `make up`, `make demo` stops a monitored container, shows the
    # TargetDown email and Rocket.Chat message from the dev sinks with their delays, and
    # restores the container (resolved notices included)
    demo = stack.make("demo", timeout=400)
    out = demo.stdout
    assert demo.returncode == 0, f"make demo failed:\n{out}\n{demo.stderr}"
    assert out.count("email       arrived") == 2 and out.count("rocketchat  arrived") == 2
    assert "Subject: [FIRING:1] TargetDown local" in out
    assert "Subject: [RESOLVED] TargetDown local" in out
    assert stack.container("blackbox-exporter")["State"]["Running"] is True


def test_no_notification_was_dropped_at_start(stack: Stack) -> None:
    # issue 12: Prometheus starts after Alertmanager is healthy, so its first alerts are sent
    samples = stack.prometheus("/api/v1/query?query=prometheus_notifications_dropped_total")
    assert samples["result"], "prometheus_notifications_dropped_total not exported"
    assert [float(s["value"][1]) for s in samples["result"]] == [0.0]


@pytest.mark.parametrize("service", SIDECARS)
def test_sidecar_metrics_are_on_a_loopback_port(stack: Stack, service: str) -> None:
    # issue 12: /metrics of every sidecar reachable from the host in dev (docs/dev.md)
    port = stack.env[f"{service.upper()}_PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310
        assert "napops_build_info{" in resp.read().decode()
    [binding] = stack.container(service)["HostConfig"]["PortBindings"]["8000/tcp"]
    assert binding["HostIp"] == "127.0.0.1"


def test_make_up_refuses_a_broken_compose_file_and_touches_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    # a copy of the repository's make and compose files, with one stack broken
    for part in ("Makefile", "mk", "compose"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, tmp_path / part, ignore=shutil.ignore_patterns("secrets"))
        else:
            shutil.copy2(src, tmp_path / part)
    broken = tmp_path / "compose" / "stacks" / "napops.yml"
    broken.write_text(broken.read_text() + "\n  certs:\n  image: [unclosed\n")
    before = {c: stack.container(c)["State"]["StartedAt"] for c in SIDECARS}
    proc = subprocess.run(
        ["make", "--no-print-directory", "up"],
        cwd=tmp_path,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "napops.yml" in proc.stderr and "error" in proc.stderr.lower(), proc.stderr
    assert "starting" not in proc.stdout
    assert {c: stack.container(c)["State"]["StartedAt"] for c in SIDECARS} == before


def test_make_down_leaves_no_container_network_or_anonymous_volume(stack: Stack) -> None:
    named = set(stack.ids("volume"))
    anonymous = {
        m["Name"]
        for c in stack.ids("container")
        for m in stack.docker_json("inspect", c)[0]["Mounts"]
        if m["Type"] == "volume" and m["Name"] not in named
    }
    proc = stack.make("down")
    assert proc.returncode == 0, proc.stderr
    assert stack.ids("container") == []
    assert stack.ids("network") == []
    left = set(stack.docker("volume", "ls", "-q").split())
    assert anonymous & left == set()
    # named data volumes are kept by `make down` and deleted only by `make down-purge`
    assert named and named <= left
    assert stack.make("down-purge").returncode == 0
    assert stack.ids("volume") == []


def test_sidecar_with_invalid_configuration_exits_2_and_prints_every_problem(
    tmp_path: Path,
) -> None:
    require_docker()
    image = napops_image()
    config = tmp_path / "certs.yml"
    config.write_text(
        "log_level: LOUD\nlisten: {port: 0}\nsurprise: 1\naudit: {path: /x}\n"
        "certs: {endpoints: [{host: no-port}]}\n"
    )
    config.chmod(0o644)
    tmp_path.chmod(0o755)
    proc = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--read-only",
            "--user",
            "65532:65532",
            "-v",
            f"{config}:/etc/napops/certs.yml:ro",
            "-e",
            "NAPOPS_CONFIG=/etc/napops/certs.yml",
            "-e",
            "NAPOPS__MAX_BODY_BYTES=0",
            image,
            "napops-certs",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    problems = [line for line in proc.stderr.splitlines() if line.startswith("At '")]
    for where in ("log_level", "listen.port", "surprise", "audit.key", "certs.endpoints[0]"):
        at = (f"At '{where}'", f"At '{where}.")  # the key itself or one inside it
        assert any(p.startswith(at) for p in problems), (where, proc.stderr)
    assert any(p.startswith("At 'max_body_bytes'") for p in problems), proc.stderr
    assert "Traceback" not in proc.stderr


def test_make_images_is_incremental_and_maps_every_variable_to_a_local_image() -> None:
    require_docker()
    napops_image()  # builds whatever is missing
    proc = subprocess.run(
        [str(ROOT / "compose" / "bin" / "build-images")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    listed = [line.strip() for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert any(line.startswith("up to date  napops/napops:") for line in listed)
    assert not any(line.startswith("built") for line in listed), proc.stdout
    assert "left out of the local stack" in proc.stdout
    mapping = dict(
        line.split("=", 1)
        for line in IMAGE_ENV.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert {"PROMETHEUS_IMAGE", "ALERTMANAGER_IMAGE", "NODE_EXPORTER_IMAGE"} <= set(mapping)
    assert {"BLACKBOX_EXPORTER_IMAGE", "SOCKET_PROXY_IMAGE", "NAPOPS_IMAGE"} <= set(mapping)
    for tag in mapping.values():
        inspect = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
        assert inspect.returncode == 0, f"{tag} is mapped but not built"


def test_napops_image_is_labelled_non_root_and_checks_its_health() -> None:
    require_docker()
    image = napops_image()
    proc = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
    config = json.loads(proc.stdout)[0]["Config"]
    assert config["User"] == "65532:65532"
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    labels = config["Labels"]
    for key in ("version", "revision", "created", "base.name", "base.digest"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    assert labels["org.opencontainers.image.base.digest"].startswith("sha256:")
    assert "NAPOPS__LISTEN__HOST=0.0.0.0" in config["Env"]
