"""napops reaches the real Docker Engine over ``tcp://`` with TLS client certificates.

dockerd cannot be restarted here to listen on TLS itself, so socat terminates TLS in front of
the engine's socket and, like ``dockerd --tlsverify``, requires a client certificate signed by
the CA it trusts (``verify=1``). The client is core.dockerhost with the ``docker.tls``
configuration a sidecar would have. A wrong client certificate, none at all, or an engine
certificate from another CA fails with a DockerError that says so.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tlscert import issued, self_signed

from helpers import free_port, require_docker, require_tool, wait_for
from napops.core.dockerhost import DockerError, Engine

pytestmark = pytest.mark.integration

SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True)
class Pki:
    ca: Path
    client_cert: Path
    client_key: Path
    rogue_ca: Path
    rogue_cert: Path
    rogue_key: Path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca, ca_key = self_signed(
        tmp_path / "ca.pem", tmp_path / "ca-key.pem", "napops CA", ip=None, ca=True
    )
    issued(tmp_path / "server.pem", tmp_path / "server-key.pem", ca, ca_key, "localhost")
    cert, key = issued(
        tmp_path / "client.pem", tmp_path / "client-key.pem", ca, ca_key, "napops", client=True
    )
    rogue_ca, rogue_ca_key = self_signed(
        tmp_path / "rogue-ca.pem", tmp_path / "rogue-ca-key.pem", "rogue CA", ip=None, ca=True
    )
    rogue_cert, rogue_key = issued(
        tmp_path / "rogue.pem", tmp_path / "rogue-key.pem", rogue_ca, rogue_ca_key, "napops",
        client=True,
    )  # fmt: skip
    return Pki(ca, cert, key, rogue_ca, rogue_cert, rogue_key)


@pytest.fixture
def tls_engine(tmp_path: Path, pki: Pki) -> Iterator[str]:
    """tcp://127.0.0.1:<port>: TLS requiring a client certificate of ``pki.ca``, in front of
    the real engine's socket."""
    require_docker()
    socat = require_tool("socat")
    port = free_port()
    listen = (
        f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={tmp_path / 'server.pem'},"
        f"key={tmp_path / 'server-key.pem'},cafile={pki.ca},verify=1"
    )
    log = tmp_path / "socat.log"
    proc = subprocess.Popen([socat, listen, f"UNIX-CONNECT:{SOCKET}"], stderr=log.open("wb"))
    try:
        wait_for(lambda: _connects(port), what=f"socat listening (log: {log})")
        yield f"tcp://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _connects(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _engine_id() -> str:
    out = subprocess.run(
        ["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def tls(ca: Path, cert: Path, key: Path) -> dict[str, str]:
    return {"ca_file": str(ca), "cert_file": str(cert), "key_file": str(key)}


def test_client_certificate_reaches_the_real_engine(
    tls_engine: str, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a system bundle in the environment (as many hosts set) must not replace the CA file
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    engine = Engine({"host": tls_engine, "tls": tls(pki.ca, pki.client_cert, pki.client_key)})
    try:
        engine.ping_or_raise()
        assert engine.client.info()["ID"] == _engine_id()
        engine.containers()  # a real API call over the same TLS connection pool
    finally:
        engine.close()


def test_a_client_certificate_from_another_ca_is_refused_clearly(tls_engine: str, pki: Pki) -> None:
    engine = Engine({"host": tls_engine, "tls": tls(pki.ca, pki.rogue_cert, pki.rogue_key)})
    with pytest.raises(DockerError) as refused:
        engine.ping_or_raise()
    message = str(refused.value)
    assert message.startswith("ping: cannot reach the engine: ")
    assert message.endswith("it did not accept the client certificate docker.tls.cert_file)")


def test_no_client_certificate_is_refused(tls_engine: str) -> None:
    engine = Engine({"host": tls_engine, "timeout_seconds": 5})  # plain tcp to a TLS port
    with pytest.raises(DockerError, match="^ping: cannot reach the engine: "):
        engine.ping_or_raise()


def test_an_engine_certificate_from_an_unknown_ca_is_refused_clearly(
    tls_engine: str, pki: Pki
) -> None:
    engine = Engine({"host": tls_engine, "tls": tls(pki.rogue_ca, pki.client_cert, pki.client_key)})
    with pytest.raises(DockerError, match="CERTIFICATE_VERIFY_FAILED") as refused:
        engine.ping_or_raise()
    assert str(refused.value).endswith(
        "(the engine's certificate is not signed by docker.tls.ca_file)"
    )
