"""STARTTLS: the certificate behind SMTP (a real aiosmtpd server), IMAP (a line-protocol
responder speaking RFC 3501's STARTTLS exchange) and PostgreSQL (a real postgres with
ssl=on) is read and verified like any other."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from certpki import Listener, Pki, write_chain

from helpers import free_port, require_tool, wait_for
from napops.certs.probe import Prober

pytestmark = pytest.mark.integration


def prober(trust: Path, endpoints: list[dict[str, Any]]) -> Prober:
    return Prober(
        {
            "timeout_seconds": 5,
            "concurrency": 4,
            "trust_store": [str(trust)],
            "acme_issuers": [],
            "endpoints": endpoints,
        }
    )


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK"


def test_smtp_starttls(pki: Pki, trust: Path, tmp_path: Path) -> None:
    cert, key = write_chain(tmp_path, "mail", pki.leaf("mail.example.test"), pki.inter)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    port = free_port()
    controller = Controller(
        _Sink(),
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        server_hostname="mail.example.test",
    )
    controller.start()
    try:
        results = (
            prober(
                trust,
                [
                    {
                        "target": f"localhost:{port}",
                        "server_name": "mail.example.test",
                        "starttls": "smtp",
                    },
                    # without STARTTLS the server speaks SMTP, not TLS
                    {"target": f"127.0.0.1:{port}", "server_name": "mail.example.test"},
                    # IMAP's greeting is not what an SMTP server sends
                    {
                        "target": f"localhost:{port}",
                        "server_name": "mail.example.test",
                        "starttls": "imap",
                    },
                ],
            )
            .round()
            .results
        )
    finally:
        controller.stop()
    smtp, plain, wrong = results
    assert smtp.success, smtp.detail
    assert smtp.certs[0].info.subject_cn == "mail.example.test"
    assert smtp.certs[0].verification == "ok"
    assert (plain.success, plain.reason) in ((False, "not_tls"), (False, "timeout"))
    assert (wrong.success, wrong.reason) == (False, "starttls_failed")


class Imap(Listener):
    def __init__(self, ctx: ssl.SSLContext, refuse: bool = False):
        self.ctx, self.refuse = ctx, refuse
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
        line = conn.recv(1024)
        tag = line.split(b" ", 1)[0]
        if self.refuse:
            conn.sendall(tag + b" BAD STARTTLS not available\r\n")
            return
        conn.sendall(tag + b" OK Begin TLS negotiation now\r\n")
        with self.ctx.wrap_socket(conn, server_side=True) as tls:
            try:
                tls.recv(1)
            except (OSError, ssl.SSLError):
                pass


def test_imap_starttls(pki: Pki, trust: Path, tmp_path: Path) -> None:
    cert, key = write_chain(tmp_path, "imap", pki.leaf("imap.example.test"), pki.inter)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    good, bad = Imap(ctx), Imap(ctx, refuse=True)
    try:
        ok, refused = (
            prober(
                trust,
                [
                    {
                        "target": f"localhost:{good.port}",
                        "server_name": "imap.example.test",
                        "starttls": "imap",
                    },
                    {
                        "target": f"localhost:{bad.port}",
                        "server_name": "imap.example.test",
                        "starttls": "imap",
                    },
                ],
            )
            .round()
            .results
        )
    finally:
        good.close()
        bad.close()
    assert ok.success and ok.certs[0].verification == "ok", ok.detail
    assert (refused.reason, "BAD") == ("starttls_failed", "BAD") and "BAD" in refused.detail


@pytest.fixture
def postgres(pki: Pki) -> Iterator[int]:
    """A real PostgreSQL with ssl=on and a certificate from the test PKI."""
    # Debian keeps the server programs out of PATH, in /usr/lib/postgresql/<version>/bin
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    bindir = versions[-1].parent if versions else None
    initdb = str(bindir / "initdb") if bindir else require_tool("initdb")
    pg_ctl = str(bindir / "pg_ctl") if bindir else require_tool("pg_ctl")
    # pytest's tmp_path is private to root; the postgres user must reach this one
    tmp_path = Path(tempfile.mkdtemp(prefix="certs-pg-"))
    tmp_path.chmod(0o755)
    data = tmp_path / "pg"
    data.mkdir()
    cert, key = write_chain(tmp_path, "pg", pki.leaf("db.example.test"), pki.inter)
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(tmp_path, "postgres")
        for p in (data, cert, key):
            shutil.chown(p, "postgres")
    key.chmod(0o600)
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-A", "trust"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    conf = data / "postgresql.conf"
    conf.write_text(
        conf.read_text()
        + f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{data}'\n"
        + f"ssl = on\nssl_cert_file = '{cert}'\nssl_key_file = '{key}'\n"
    )
    subprocess.run(
        [*run_as, pg_ctl, "-D", str(data), "-l", str(data / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), 1), what="postgres")
        yield port
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.integration
def test_postgres_ssl_request(postgres: int, trust: Path) -> None:
    (r,) = (
        prober(
            trust,
            [
                {
                    "target": f"localhost:{postgres}",
                    "server_name": "db.example.test",
                    "starttls": "postgres",
                }
            ],
        )
        .round()
        .results
    )
    assert r.success, r.detail
    assert r.certs[0].info.subject_cn == "db.example.test"
    assert r.certs[0].verification == "ok"
