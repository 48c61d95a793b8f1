"""The napops image reaches a remote engine over ``DOCKER_HOST=ssh://`` through paramiko.

The image has no ``ssh`` binary, so core.dockerhost uses docker-py's paramiko transport, as
a sidecar on the ASUSTOR would to reach the QNAP's engine. The "remote" host is a real
OpenSSH server on 127.0.0.1 of this machine (throwaway keys), whose ``docker system
dial-stdio`` reaches the real engine; the container shares the host's network to get there.
The container gets the client key and a known_hosts file with the server's key (paramiko
refuses unknown hosts) in ``$HOME/.ssh``.

The image's Python, docker-py and paramiko run this checkout's ``napops`` package (mounted over
the installed one): the image tag is shared on this machine and may have been built from
another checkout; `make images` builds it from this one in CI.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import sshd as sshd_server

from helpers import ROOT, napops_image, require_docker

pytestmark = pytest.mark.e2e

HOME = "/ssh-home"  # the image's user has HOME=/nonexistent; a sidecar sets HOME likewise
SITE = "/opt/napops/lib/python3.11/site-packages/napops"  # where the image installed napops
PROBE = (
    "import sys\n"
    "from napops.core import dockerhost\n"
    "engine = dockerhost.Engine()\n"
    "try:\n"
    "    engine.ping_or_raise()\n"
    "except dockerhost.DockerError as exc:\n"
    "    sys.exit(f'DockerError: {exc}')\n"
    "print(engine.client.info()['ID'])\n"
)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """sshd on 127.0.0.1: yields (port, client home with .ssh, sshd log)."""
    with sshd_server.running(tmp_path) as server:
        yield server.port, server.home, server.log


def run_in_image(image: str, home: Path, docker_host: str) -> subprocess.CompletedProcess[str]:
    name = f"relay-dockerhost-ssh-{uuid.uuid4().hex[:8]}"
    argv = [
        "docker", "run", "--rm", "--name", name, "--network", "host",
        "-e", f"HOME={HOME}", "-e", f"DOCKER_HOST={docker_host}",
        "-v", f"{home}:{HOME}:ro", "-v", f"{ROOT / 'services' / 'napops'}:{SITE}:ro",
        "--entrypoint", "python", image, "-c", PROBE,
    ]  # fmt: skip
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_ssh_engine_through_paramiko_inside_the_image(sshd, tmp_path):
    require_docker()
    image = napops_image()
    engine_id = subprocess.run(
        ["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    no_ssh = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "python", image, "-c",
         "import shutil; print(shutil.which('ssh'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert no_ssh.stdout.strip() == "None"  # so the transport is paramiko, not the ssh binary
    port, home, log = sshd
    proc = run_in_image(image, home, f"ssh://root@127.0.0.1:{port}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == engine_id  # the same engine, reached through sshd
    assert "Accepted publickey for root" in log.read_text()


def test_an_unknown_host_key_is_refused_clearly(sshd):
    require_docker()
    image = napops_image()
    port, home, _ = sshd
    (home / ".ssh" / "known_hosts").write_text("")  # the server's key is not known
    proc = run_in_image(image, home, f"ssh://root@127.0.0.1:{port}")
    assert proc.returncode != 0
    assert proc.stderr.strip() == (
        "DockerError: ping: cannot reach the engine over ssh: "
        f"Server '[127.0.0.1]:{port}' not found in known_hosts"
    )
