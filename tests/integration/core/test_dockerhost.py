"""napops reaches the real Docker Engine as DOCKER_HOST says: unix socket, tcp and ssh://.

tcp: socat forwards a loopback port to the engine's socket. ssh: a real OpenSSH server on a
loopback port with throwaway keys; the client is the real ``ssh`` binary (through a wrapper
that adds ``-F`` with this test's config), which runs ``docker system dial-stdio`` on the
"remote" side, the same machine. Each transport must reach the same engine (same engine id).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import free_port, missing, require_docker, require_tool, wait_for
from napops.core import dockerhost

SOCKET = "/var/run/docker.sock"


@pytest.fixture(scope="module")
def engine_id() -> str:
    require_docker()
    out = subprocess.run(
        ["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.fixture
def tcp_host() -> Iterator[str]:
    socat = require_tool("socat")
    port = free_port()
    proc = subprocess.Popen(
        [socat, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", f"UNIX-CONNECT:{SOCKET}"]
    )
    try:
        wait_for(lambda: _connects(port), what="socat listening")
        yield f"tcp://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _connects(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture
def ssh_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    sshd = require_tool("sshd")
    require_tool("ssh")
    require_tool("ssh-keygen")
    if os.geteuid() != 0:
        missing("root, to run sshd with a login for the current user")
    for name in ("host_key", "client_key"):
        _keygen(tmp_path / name)
    (tmp_path / "authorized_keys").write_text((tmp_path / "client_key.pub").read_text())
    port = free_port()
    (tmp_path / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path / 'host_key'}\n"
        f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nPidFile {tmp_path / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\n"
    )
    (tmp_path / "ssh_config").write_text(
        f"Host 127.0.0.1\n  Port {port}\n  IdentityFile {tmp_path / 'client_key'}\n"
        f"  IdentitiesOnly yes\n  BatchMode yes\n  StrictHostKeyChecking no\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n"
    )
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {tmp_path / "ssh_config"} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    log = tmp_path / "sshd.log"
    proc = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(tmp_path / "sshd_config")], stderr=log.open("wb")
    )
    try:
        wait_for(lambda: _connects(port), what=f"sshd listening (log: {log})")
        yield f"ssh://root@127.0.0.1:{port}"
        # the engine was reached through this server, not some other way
        assert "Accepted publickey for root" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _engine_id_through(host: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DOCKER_HOST", host)
    client = dockerhost.client()
    try:
        assert client.ping()
        return str(client.info()["ID"])
    finally:
        client.close()


def test_unix_socket(engine_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _engine_id_through(f"unix://{SOCKET}", monkeypatch) == engine_id


def test_tcp(engine_id: str, tcp_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _engine_id_through(tcp_host, monkeypatch) == engine_id


def test_ssh(engine_id: str, ssh_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _engine_id_through(ssh_host, monkeypatch) == engine_id


def test_configured_host_wins_over_docker_host(
    engine_id: str, tcp_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")  # nothing listens
    client = dockerhost.client({"host": tcp_host, "timeout_seconds": 5})
    try:
        assert client.info()["ID"] == engine_id
    finally:
        client.close()


def test_unreachable_host_raises_docker_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker.errors

    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    with pytest.raises(docker.errors.DockerException):
        dockerhost.client({"timeout_seconds": 2})
