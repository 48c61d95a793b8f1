"""A small PKI for the certs tests, made with ``cryptography``: a trusted root, intermediates
(valid or expired), leaves valid, expiring, expired, not yet valid, for the wrong host, or
self-signed; plus TLS listeners (Python ssl in a thread) serving any of them, and listeners
that misbehave (hang, reset, garbage, drip)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = dt.timedelta(days=1)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def issue(
    cn: str,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    names: Sequence[str] = (),
    not_before: dt.timedelta = -DAY,
    not_after: dt.timedelta = 60 * DAY,
) -> Issued:
    """A certificate for ``cn`` signed by ``issuer`` (self-signed when None); validity
    relative to now."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        import ipaddress

        alt: list[x509.GeneralName] = []
        for n in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(cert, key)


class Pki:
    """root (trusted) -> intermediate -> leaves; and an expired intermediate."""

    def __init__(self) -> None:
        self.root = issue("napops test root", ca=True, not_after=3650 * DAY)
        self.inter = issue("napops test intermediate", self.root, ca=True, not_after=365 * DAY)
        self.old_inter = issue(
            "napops old intermediate",
            self.root,
            ca=True,
            not_before=-400 * DAY,
            not_after=-10 * DAY,
        )

    def leaf(self, name: str = "localhost", **kw: object) -> Issued:
        return issue(name, self.inter, names=[name], **kw)  # type: ignore[arg-type]

    def write_trust(self, path: Path) -> Path:
        path.write_bytes(self.root.pem())
        return path


def write_chain(directory: Path, stem: str, leaf: Issued, *chain: Issued) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert.write_bytes(leaf.pem() + b"".join(c.pem() for c in chain))
    key.write_bytes(leaf.key_pem())
    return cert, key


def _listener(host: str = "127.0.0.1") -> socket.socket:
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(128)
    return s


class Listener:
    """Accepts on 127.0.0.1 in a thread and hands each connection to ``handle``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = _listener(host)
        self.port = self.sock.getsockname()[1]
        self.target = f"localhost:{self.port}"
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._safe, args=(conn,), daemon=True).start()

    def _safe(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass


class TlsServer(Listener):
    """Serves ``cert_file`` (leaf first, then its chain); with ``by_name`` the SNI name picks
    another (cert, key) pair."""

    def __init__(
        self,
        cert_file: Path,
        key_file: Path,
        by_name: dict[str, tuple[Path, Path]] | None = None,
        host: str = "127.0.0.1",
    ):
        self.ctx = self._context(cert_file, key_file)
        self.by_name = {n: self._context(*pair) for n, pair in (by_name or {}).items()}
        self.seen_sni: list[str | None] = []
        if self.by_name:
            self.ctx.sni_callback = self._sni
        super().__init__(host)

    @staticmethod
    def _context(cert: Path, key: Path) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def _sni(self, sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.seen_sni.append(name)
        if name in self.by_name:
            sslobj.context = self.by_name[name]

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        with self.ctx.wrap_socket(conn, server_side=True) as tls:
            try:
                tls.recv(1)
            except (OSError, ssl.SSLError):
                pass


class Hang(Listener):
    """Accepts and never says anything."""

    def handle(self, conn: socket.socket) -> None:
        self._stop.wait(120)


class Reset(Listener):
    """Reads the ClientHello, then resets the connection (RST)."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


class Garbage(Listener):
    """Answers the ClientHello with bytes that are not TLS."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + bytes(range(256)) * 4)
        time.sleep(1)
        conn.close()


class Drip(Listener):
    """Sends a valid-looking TLS record header, then one byte a second forever."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"\x16\x03\x03\x40\x00")  # handshake record of 16 KiB coming
        while not self._stop.is_set():
            conn.sendall(b"\x00")
            time.sleep(0.5)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    s = _listener()
    port = s.getsockname()[1]
    s.close()
    return int(port)
