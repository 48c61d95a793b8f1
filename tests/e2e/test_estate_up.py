"""`estate up` and `estate diff` (make estate-up, napops estate) against the real engine.

The shipped stacks' images cannot be pulled here, so a scratch compose folder of this test's
own (hosts.yml, stacks, env files, laid out as compose/ is) runs small stacks of the local
base image napops-local/debian:bookworm (`make images`), each with a real Docker healthcheck.
Every project, network and image tag starts with PREFIX (the branch name and this process)
and is removed at the end. Environments of the scratch folder:

- dev: host `one` runs `first` then `second` (a network of its own, a host `env`), host
  `two` runs `third`; used for order, health, `--host`, idempotence and diff;
- sick: `first`, then `never` (its healthcheck always fails), then `second`;
- broken: `first`, then `broken` (a required variable unset): nothing may start;
- unpulled: `first`, then `third` of an image from a registry on a closed loopback port;
- remote: `first` on a host whose engine is ssh:// to this machine (real sshd), or tcp://
  with TLS client certificates (socat terminating TLS in front of the engine's socket).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from integration.core.test_dockerhost import ssh_host  # noqa: F401 - the real sshd fixture
from integration.core.test_dockerhost_tls import Pki, pki, tls_engine  # noqa: F401 - TLS engine

from helpers import ROOT, free_port, missing, require_docker, require_tool

pytestmark = pytest.mark.e2e

TOOL = ROOT / "compose" / "bin" / "estate"
PREFIX = f"estate-up-e2e-{os.getpid()}"
BASE = "napops-local/debian:bookworm"
SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
NET = f"{PREFIX}-net"
BROKEN_NET = f"{PREFIX}-broken-net"

# nothing listens there: the pull fails at once, and only on the loopback
UNPULLABLE = f"127.0.0.1:{free_port()}/{PREFIX}/absent:1"
# healthy at once; the first passing check leaves its time in the container (Docker keeps
# only the last 5 results, so the health log loses it when the machine is slow)
HEALTHY = (
    '["CMD-SHELL", "test -e /tmp/first-pass || date -u +%Y-%m-%dT%H:%M:%S.%NZ > /tmp/first-pass"]'
)
NEVER = '["CMD-SHELL", "echo not ready yet; exit 1"]'


def stack(name: str, service: str, check: str = HEALTHY, extra_env: str = "") -> str:
    """A stack file: one service of ${IMG}, a healthcheck, the project named per env. first
    and second share the external network NET; meeta and meetb meet on a network they name
    themselves (not external), as the ops stacks do (compose/stacks/agents.yml and the
    others); any other has a network of its own."""
    network = {
        "first": NET,
        "second": NET,
        "meeta": f"{PREFIX}-${{NAPOPS_ENV}}-meet",
        "meetb": f"{PREFIX}-${{NAPOPS_ENV}}-meet",
    }.get(name, f"{PREFIX}-${{NAPOPS_ENV}}-{name}-own")
    external = "true" if network == NET else "false"
    return f"""name: {PREFIX}-${{NAPOPS_ENV}}-{name}
services:
  {service}:
    image: ${{IMG:?set IMG in the env file}}
    command: ["sleep", "infinity"]
    init: true
    stop_grace_period: 1s
    environment:
      GREETING: ${{GREETING:-none}}
      HOST_LABEL: ${{HOST_LABEL:-none}}{extra_env}
    networks: [shared]
    healthcheck:
      test: {check}
      interval: 1s
      timeout: 2s
      retries: 2
networks:
  shared:
    name: {network}
    external: {external}
"""


HOSTS = f"""environments:
  dev:
    hosts:
      one:
        docker_host: {SOCKET}
        stacks: [first, second]
        networks: [{NET}]
        env:
          HOST_LABEL: one
      two:
        docker_host: {SOCKET}
        stacks: [third]
  sick:
    hosts:
      one:
        docker_host: {SOCKET}
        stacks: [first, never, second]
        networks: [{NET}]
  broken:
    hosts:
      one:
        docker_host: {SOCKET}
        stacks: [first, broken]
        networks: [{BROKEN_NET}]
  unpulled:
    hosts:
      one:
        docker_host: {SOCKET}
        stacks: [first, third]
        networks: [{NET}]
  ops:
    hosts:
      one:
        docker_host: {SOCKET}
        stacks: [meeta, meetb]
  remote:
    hosts:
      far:
        docker_host: ssh://SSH_HOST
        stacks: [first]
        networks: [{NET}]
"""


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def ours() -> dict[str, str]:
    """Container name -> id of every container of this test's projects."""
    proc = docker(
        "ps", "-a", "--format", '{{.Names}} {{.ID}} {{.Label "com.docker.compose.project"}}'
    )
    assert proc.returncode == 0, proc.stderr
    return {
        name: cid
        for name, cid, *project in (line.split() for line in proc.stdout.splitlines())
        if project and project[0].startswith(PREFIX)
    }


def remove_ours() -> None:
    found = ours()
    if found:
        docker("rm", "-f", *found.values())
    listed = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    for name in listed:
        if name.startswith(PREFIX):
            docker("network", "rm", name)


@pytest.fixture(scope="module")
def compose_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_docker()
    if docker("image", "inspect", BASE).returncode != 0:
        missing(f"the local base image {BASE} (make images)")
    folder = tmp_path_factory.mktemp("compose")
    (folder / "stacks").mkdir()
    files = {
        "first": stack("first", "db"),
        "second": stack("second", "web"),
        "third": stack("third", "worker"),
        "never": stack("never", "sick", NEVER),
        "broken": stack("broken", "half", extra_env="\n      NEEDED: ${NEEDED:?set NEEDED}"),
        "meeta": stack("meeta", "alpha"),
        "meetb": stack("meetb", "beta"),
    }
    for name, text in files.items():
        (folder / "stacks" / f"{name}.yml").write_text(text)
    for env in ("dev", "sick", "broken", "unpulled", "remote", "ops"):
        (folder / "env" / env).mkdir(parents=True)
        for name in files:
            (folder / "env" / env / f"{name}.env").write_text(f"IMG={BASE}\n")
    (folder / "env" / "unpulled" / "third.env").write_text(f"IMG={UNPULLABLE}\n")
    (folder / "hosts.yml").write_text(HOSTS)
    remove_ours()
    yield folder
    remove_ours()
    docker("rmi", f"{PREFIX}:v2")


def estate(
    folder: Path, *args: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), "--compose-dir", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=environ,
    )


def up(folder: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = estate(folder, "up", "--json", "--wait-timeout", "60", *args)
    assert "Traceback" not in proc.stderr and proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def diff(folder: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = estate(folder, "diff", "--json", *args)
    assert "Traceback" not in proc.stderr and proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def stacks_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{h['host']}/{s['stack']}": s for h in report["hosts"] for s in h["stacks"]}


def inspect(name: str) -> dict[str, Any]:
    proc = docker("inspect", name)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)[0]
    return result


def when(stamp: str) -> datetime:
    """Docker's RFC 3339 time (nanoseconds) as a datetime (microseconds)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    frac = re.sub(r"[^0-9].*$", "", frac)
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}")


def changed(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (h["host"], s["stack"], d["service"])
        for h in report["hosts"]
        for s in h["stacks"]
        for d in s["services"]
        if d["action"] != "none"
    ]


def test_up_starts_in_order_waits_healthy_restricts_to_a_host_and_is_idempotent(
    compose_dir: Path,
) -> None:
    # --host two: only its stack, nothing of host one (not even its network)
    status, report, _ = up(compose_dir, "--env", "dev", "--host", "two")
    assert status == 0, report
    assert [h["host"] for h in report["hosts"]] == ["two"]
    assert sorted(ours()) == [f"{PREFIX}-dev-third-worker-1"]
    assert docker("network", "inspect", NET).returncode != 0

    status, report, progress = up(compose_dir, "--env", "dev")
    assert status == 0, report
    assert report["result"] == "up"
    got = stacks_of(report)
    assert list(got) == ["one/first", "one/second", "two/third"]
    assert {k: s["result"] for k, s in got.items()} == dict.fromkeys(got, "healthy")
    assert got["one/first"]["services"] == {"db": "healthy"}
    assert got["two/third"]["changed"] == []  # already up from the --host run
    assert f"created {NET}" in progress
    # in order: `second` was created only after `first` had passed a health check
    first_pass = docker("exec", f"{PREFIX}-dev-first-db-1", "cat", "/tmp/first-pass")
    assert first_pass.returncode == 0, first_pass.stderr
    second = inspect(f"{PREFIX}-dev-second-web-1")
    assert when(second["Created"]) > when(first_pass.stdout.strip())
    assert second["State"]["Health"]["Status"] == "healthy"
    assert "HOST_LABEL=one" in second["Config"]["Env"]  # the host's `env:` of hosts.yml
    assert NET in second["NetworkSettings"]["Networks"]

    # a second up changes nothing, and diff then shows nothing to change
    before = ours()
    status, again, _ = up(compose_dir, "--env", "dev")
    assert status == 0, again
    assert [s["changed"] for s in stacks_of(again).values()] == [[], [], []]
    assert ours() == before
    status, nothing = diff(compose_dir, "--env", "dev")
    assert status == 0, nothing
    assert nothing["changes"] == 0 and changed(nothing) == []
    assert len([d for h in nothing["hosts"] for s in h["stacks"] for d in s["services"]]) == 3
    table = estate(compose_dir, "up", "--env", "dev")
    assert table.returncode == 0
    assert re.search(r"^one\s+first\s+\S+-dev-first\s+healthy\s+\S+\s+0$", table.stdout, re.M)


def test_diff_lists_exactly_the_changed_service(compose_dir: Path) -> None:
    status, report, _ = up(compose_dir, "--env", "dev")
    assert status == 0, report
    env_files = compose_dir / "env" / "dev"
    # a variable of one stack
    (env_files / "second.env").write_text(f"IMG={BASE}\nGREETING=hello\n")
    status, found = diff(compose_dir, "--env", "dev")
    assert status == 1, found
    assert changed(found) == [("one", "second", "web")]
    web = stacks_of(found)["one/second"]["services"][0]
    assert web["action"] == "recreate"
    assert web["running"]["config_hash"] != web["wanted"]["config_hash"]
    assert web["reasons"][0].startswith("configuration changed (config hash ")
    # its image instead
    assert docker("tag", BASE, f"{PREFIX}:v2").returncode == 0
    (env_files / "second.env").write_text(f"IMG={BASE}\n")
    (env_files / "third.env").write_text(f"IMG={PREFIX}:v2\n")
    status, found = diff(compose_dir, "--env", "dev")
    assert status == 1 and changed(found) == [("two", "third", "worker")]
    worker = stacks_of(found)["two/third"]["services"][0]
    assert f"image {BASE} -> {PREFIX}:v2" in worker["reasons"]
    assert worker["wanted"]["image"] == f"{PREFIX}:v2"
    # the human table names it
    text = estate(compose_dir, "diff", "--env", "dev", "--host", "two")
    assert text.returncode == 1
    assert re.search(r"^two\s+third\s+worker\s+recreate\s+.*-> " + PREFIX, text.stdout, re.M)
    # applying it converges, and diff is clean again
    status, report, _ = up(compose_dir, "--env", "dev", "--host", "two")
    assert status == 0 and stacks_of(report)["two/third"]["changed"]
    assert inspect(f"{PREFIX}-dev-third-worker-1")["Config"]["Image"] == f"{PREFIX}:v2"
    assert diff(compose_dir, "--env", "dev")[0] == 0


def test_a_stack_that_never_becomes_healthy_fails_and_stops_the_host(compose_dir: Path) -> None:
    status, report, _ = up(compose_dir, "--env", "sick")
    assert status == 1
    assert report["result"] == "failed"
    got = stacks_of(report)
    assert got["one/first"]["result"] == "healthy"
    assert got["one/never"]["result"] == "failed"
    assert got["one/never"]["services"] == {"sick": "unhealthy"}
    assert "sick unhealthy: last health check (exit 1): not ready yet" in got["one/never"]["reason"]
    assert got["one/second"]["result"] == "not started"
    assert got["one/second"]["reason"] == "never failed before it"
    assert f"{PREFIX}-sick-second-web-1" not in ours()
    table = estate(compose_dir, "up", "--env", "sick", "--wait-timeout", "30")
    assert table.returncode == 1
    assert "one/never: " in table.stdout and "not ready yet" in table.stdout
    assert "estate sick: FAILED" in table.stdout


def test_a_validation_failure_starts_nothing(compose_dir: Path) -> None:
    before = ours()
    status, report, _ = up(compose_dir, "--env", "broken")
    assert status == 3
    assert report["result"] == "refused"
    got = stacks_of(report)
    assert got["one/broken"]["result"] == "invalid"
    assert "required variable NEEDED is missing a value: set NEEDED" in got["one/broken"]["reason"]
    assert got["one/first"]["result"] == "not started"  # valid, but nothing starts
    assert ours() == before
    assert docker("network", "inspect", BROKEN_NET).returncode != 0
    table = estate(compose_dir, "up", "--env", "broken")
    assert table.returncode == 3 and "REFUSED, nothing was started" in table.stdout
    assert "one/broken: " in table.stdout and "NEEDED" in table.stdout
    status, found = diff(compose_dir, "--env", "broken")
    assert status == 3 and "NEEDED" in stacks_of(found)["one/broken"]["error"]


def test_an_image_that_cannot_be_pulled_starts_nothing(compose_dir: Path) -> None:
    before = ours()
    status, report, progress = up(compose_dir, "--env", "unpulled")
    assert status == 3, report
    third = stacks_of(report)["one/third"]
    assert third["result"] == "no image"
    assert third["reason"].startswith(f"{UNPULLABLE} cannot be pulled on {SOCKET}: ")
    assert stacks_of(report)["one/first"]["result"] == "not started"
    assert f"one: pulling {UNPULLABLE} ..." in progress
    assert ours() == before
    status, found = diff(compose_dir, "--env", "unpulled")
    assert status == 1
    assert ("one", "third", "worker") in changed(found)
    worker = stacks_of(found)["one/third"]["services"][0]
    assert f"{UNPULLABLE} is not on the engine: up pulls it" in worker["reasons"]


def test_an_unreachable_engine_refuses_everything(compose_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "compose"
    subprocess.run(["cp", "-r", str(compose_dir), str(folder)], check=True)
    hosts = (folder / "hosts.yml").read_text()
    (folder / "hosts.yml").write_text(
        hosts.replace(
            "      two:\n        docker_host: " + SOCKET,
            "      two:\n        docker_host: unix:///nonexistent/docker.sock",
        )
    )
    before = ours()
    status, report, _ = up(folder, "--env", "dev")
    assert status == 3, report
    two = next(h for h in report["hosts"] if h["host"] == "two")
    assert two["result"] == "refused" and "cannot reach the engine" in two["reason"]
    assert ours() == before


def test_up_through_an_ssh_engine(
    compose_dir: Path,
    ssh_host: str,  # noqa: F811 - the imported fixture
) -> None:
    require_tool("ssh")
    hosts = compose_dir / "hosts.yml"
    hosts.write_text(HOSTS.replace("ssh://SSH_HOST", ssh_host))
    try:
        status, report, progress = up(compose_dir, "--env", "remote")
        assert status == 0, (report, progress)
        assert report["hosts"][0]["docker_host"] == ssh_host
        assert f"on {ssh_host}" in progress  # the network was made through it
        assert inspect(f"{PREFIX}-remote-first-db-1")["State"]["Health"]["Status"] == "healthy"
        status, found = diff(compose_dir, "--env", "remote")
        assert status == 0 and changed(found) == [], found
    finally:
        hosts.write_text(HOSTS)
    # (the sshd fixture then checks that the engine was reached through it)


def test_up_through_a_tls_engine(
    compose_dir: Path,
    tmp_path: Path,
    pki: Pki,  # noqa: F811 - the imported fixture
    tls_engine: str,  # noqa: F811 - the imported fixture
) -> None:
    good, rogue = tmp_path / "good", tmp_path / "rogue"
    for folder, cert, key in ((good, pki.client_cert, pki.client_key),
                              (rogue, pki.rogue_cert, pki.rogue_key)):  # fmt: skip
        folder.mkdir()
        for name, source in (("ca.pem", pki.ca), ("cert.pem", cert), ("key.pem", key)):
            (folder / name).write_bytes(source.read_bytes())
    hosts = compose_dir / "hosts.yml"
    engine = f"docker_host: {tls_engine}\n        docker_cert_path: "
    try:
        hosts.write_text(HOSTS.replace("docker_host: ssh://SSH_HOST", engine + str(rogue)))
        before = ours()
        status, report, _ = up(compose_dir, "--env", "remote")
        assert status == 3, report
        assert "cannot reach the engine " + tls_engine in report["hosts"][0]["reason"]
        assert ours() == before
        hosts.write_text(HOSTS.replace("docker_host: ssh://SSH_HOST", engine + str(good)))
        name = f"{PREFIX}-remote-first-db-1"
        if name in before:
            docker("rm", "-f", name)
        status, report, progress = up(compose_dir, "--env", "remote")
        assert status == 0, (report, progress)
        assert stacks_of(report)["far/first"]["changed"] == [name]
        assert inspect(name)["State"]["Health"]["Status"] == "healthy"
        status, found = diff(compose_dir, "--env", "remote")
        assert status == 0 and changed(found) == [], found
    finally:
        hosts.write_text(HOSTS)


def test_stacks_that_meet_on_a_network_they_name_are_projects_that_stay_up_together(
    compose_dir: Path,
) -> None:
    """Each stack its own project, up with --remove-orphans: the second leaves the first
    running, joins the network the first created, and reaches it by service name."""
    status, report, _ = up(compose_dir, "--env", "ops")
    assert status == 0, report
    got = stacks_of(report)
    assert {k: s["result"] for k, s in got.items()} == {
        "one/meeta": "healthy",
        "one/meetb": "healthy",
    }
    assert {s["project"] for s in got.values()} == {f"{PREFIX}-ops-meeta", f"{PREFIX}-ops-meetb"}
    alpha, beta = f"{PREFIX}-ops-meeta-alpha-1", f"{PREFIX}-ops-meetb-beta-1"
    assert {alpha, beta} <= set(ours())
    reach = docker("exec", beta, "getent", "hosts", "alpha")
    assert reach.returncode == 0 and reach.stdout.strip(), reach.stderr
    status, again, _ = up(compose_dir, "--env", "ops")
    assert status == 0, again
    assert [s["changed"] for s in stacks_of(again).values()] == [[], []]
    assert {alpha, beta} <= set(ours())
