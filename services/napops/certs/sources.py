"""Where certificates come from: TLS endpoints (optionally after STARTTLS) and PEM files.

:func:`targets_of` turns the configuration into :class:`Target` objects; a target that cannot
be probed as written (an IP without a server name, an unbracketed IPv6 address, a duplicate)
carries its reason in ``problem`` instead of stopping the others. :func:`fetch_endpoint` and
:func:`read_file` return the certificates, or raise :class:`SourceError` with one reason of
:data:`REASONS`. A probe never takes longer than its timeout: a watchdog shuts the socket down
at the deadline, so a server that drips bytes cannot stretch it.
"""

from __future__ import annotations

import errno
import glob
import heapq
import ipaddress
import itertools
import os
import socket
import ssl
import struct
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cryptography import x509

REASONS = (
    "timeout",
    "connection_refused",
    "connection_reset",
    "dns_failure",
    "unreachable",
    "not_tls",
    "tls_handshake_failed",
    "starttls_failed",
    "no_certificate",
    "file_missing",
    "file_unreadable",
    "pem_garbage",
    "pem_several_certificates",
    "der_not_pem",
    "glob_no_match",
    "invalid_target",
    "ip_without_sni",
    "ipv6_unbracketed",
    "duplicate_target",
)
"""Why a probe failed (label ``reason`` of napops_certs_probe_success when it is 0)."""

MAX_LINE_BYTES = 4096
MAX_REPLY_BYTES = 65536
PG_SSL_REQUEST = struct.pack("!II", 8, 80877103)


class SourceError(Exception):
    """A probe failed; ``reason`` is one of :data:`REASONS`, ``detail`` says more."""

    def __init__(self, reason: str, detail: str = ""):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, str]]:
        return (SourceError, (self.reason, self.detail))  # a Target crosses to the child


@dataclass(frozen=True)
class Target:
    """One configured thing to probe. ``name`` is its label (host:port or the file path)."""

    name: str
    kind: str  # "endpoint" or "file"
    timeout: float
    host: str = ""
    port: int = 0
    server_name: str | None = None
    starttls: str | None = None
    contents: str = "certificate"  # files: certificate, chain or bundle
    problem: SourceError | None = None


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); raises SourceError."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise SourceError("invalid_target", f"{text!r}: expected [IPv6]:port")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SourceError("invalid_target", f"{host!r} is not an IPv6 address") from None
    else:
        if text.count(":") > 1:
            raise SourceError(
                "ipv6_unbracketed", f"{text!r}: write an IPv6 address as [address]:port"
            )
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise SourceError("invalid_target", f"{text!r}: expected host:port")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SourceError("invalid_target", f"{text!r}: port must be 1-65535")
    return host, int(port)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def endpoint_label(entry: Mapping[str, Any]) -> str:
    """The ``target`` label: ``[starttls://]host:port[/server_name]``, so one address probed
    with several SNI names (the edge) or protocols gives distinct series."""
    label = str(entry["target"])
    if entry.get("server_name"):
        host = label.rsplit(":", 1)[0].strip("[]")
        if entry["server_name"] != host:
            label += f"/{entry['server_name']}"
    if entry.get("starttls"):
        label = f"{entry['starttls']}://{label}"
    return label


def endpoint_target(entry: Mapping[str, Any], default_timeout: float) -> Target:
    name = endpoint_label(entry)
    timeout = float(entry.get("timeout_seconds", default_timeout))
    server_name = entry.get("server_name")
    try:
        host, port = parse_address(entry["target"])
    except SourceError as exc:
        return Target(name, "endpoint", timeout, problem=exc)
    problem = None
    if server_name is None and is_ip(host):
        problem = SourceError(
            "ip_without_sni",
            f"{name}: an IP address sends no SNI and has no name to verify; set server_name",
        )
    return Target(
        name,
        "endpoint",
        timeout,
        host=host,
        port=port,
        server_name=server_name or (None if is_ip(host) else host),
        starttls=entry.get("starttls"),
        problem=problem,
    )


def _duplicates_marked(targets: Iterable[Target]) -> list[Target]:
    out: list[Target] = []
    seen: set[tuple[str, str]] = set()
    for t in targets:
        key = (t.kind, t.name)
        if key in seen:
            # bounded: the label of a duplicate is its name with a suffix
            n = sum(1 for o in out if o.kind == t.kind and o.name.split(" #")[0] == t.name)
            t = Target(
                f"{t.name} #{n + 1}",
                t.kind,
                t.timeout,
                problem=SourceError("duplicate_target", f"{t.name} is listed more than once"),
            )
        seen.add(key)
        out.append(t)
    return out


def endpoint_targets(section: Mapping[str, Any]) -> list[Target]:
    timeout = float(section["timeout_seconds"])
    return _duplicates_marked(endpoint_target(e, timeout) for e in section.get("endpoints", []))


def _has_magic(path: str) -> bool:
    return glob.has_magic(path)


class FileTargets:
    """Expands the ``files`` entries at every round. A file that a glob found before and no
    longer finds stays as a ``file_missing`` target (until restart), so a vanished
    certificate is noticed instead of silently leaving the table."""

    def __init__(self, section: Mapping[str, Any]):
        self.entries = list(section.get("files", []))
        self.timeout = float(section["timeout_seconds"])
        self._seen: dict[int, set[str]] = {}

    def current(self) -> list[Target]:
        out: list[Target] = []
        for i, entry in enumerate(self.entries):
            pattern, contents = entry["path"], entry.get("contents", "certificate")
            name = entry.get("server_name")
            if not _has_magic(pattern):
                out.append(
                    Target(pattern, "file", self.timeout, server_name=name, contents=contents)
                )
                continue
            found = set(glob.glob(pattern, recursive=True))
            files = [f for f in found if not os.path.isdir(f)]
            seen = self._seen.setdefault(i, set())
            seen.update(files)
            if not seen:
                out.append(
                    Target(
                        pattern,
                        "file",
                        self.timeout,
                        problem=SourceError("glob_no_match", f"{pattern} matches no file"),
                    )
                )
            for path in sorted(seen):
                out.append(Target(path, "file", self.timeout, server_name=name, contents=contents))
        return _duplicates_marked(out)


# -- files ------------------------------------------------------------------------------------
def read_file(path: str, contents: str = "certificate") -> list[x509.Certificate]:
    """The certificates of PEM file ``path``: exactly one for ``certificate``, leaf first
    for ``chain``, any number for ``bundle``. Raises SourceError."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(4 << 20)
    except FileNotFoundError:
        raise SourceError("file_missing", f"{path} does not exist (any more)") from None
    except IsADirectoryError:
        raise SourceError("file_unreadable", f"{path} is a directory") from None
    except OSError as exc:
        raise SourceError("file_unreadable", f"{path}: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        try:
            x509.load_der_x509_certificate(data)
        except ValueError:
            raise SourceError("pem_garbage", f"{path} holds no PEM certificate") from None
        raise SourceError(
            "der_not_pem", f"{path} is a DER certificate; convert it: openssl x509 -inform der"
        )
    try:
        with warnings.catch_warnings():  # old CA bundles hold a negative serial or two
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise SourceError("pem_garbage", f"{path}: {exc}") from None
    if len(certs) > 1 and contents == "certificate":
        raise SourceError(
            "pem_several_certificates",
            f"{path} holds {len(certs)} certificates; set contents: chain or bundle",
        )
    return certs


# -- endpoints --------------------------------------------------------------------------------
class _Deadline:
    """Shuts ``sock`` down when the time is up (interrupts a blocking read at once)."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds
        self.fired = False
        self.cancelled = False
        self._sock: socket.socket | None = None

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            self.fired = True
            raise TimeoutError("deadline passed")
        return left

    def watch(self, sock: socket.socket) -> None:
        self._sock = sock
        _WATCHDOG.add(self)

    def fire(self) -> None:
        if self.cancelled:
            return
        self.fired = True
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self.cancelled = True


class _Watchdog:
    """One thread that fires every probe's :class:`_Deadline` when it is due. A thread per
    probe (a ``threading.Timer`` each) cost a quarter of a 500-target round's time in thread
    starts alone (docs/benchmarks.md, certs)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, _Deadline]] = []  # a heap by end
        self._seq = itertools.count()
        self._owner = 0  # the process whose thread serves the heap (a forked child has none)

    def add(self, deadline: _Deadline) -> None:
        with self._cond:
            if self._owner != os.getpid():
                self._owner, self._due = os.getpid(), []
                threading.Thread(target=self._run, name="certs-deadlines", daemon=True).start()
            heapq.heappush(self._due, (deadline.end, next(self._seq), deadline))
            if self._due[0][2] is deadline:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._due and self._due[0][2].cancelled:
                    heapq.heappop(self._due)  # cancelled ones leave when they reach the top
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, deadline = heapq.heappop(self._due)
            deadline.fire()


_WATCHDOG = _Watchdog()


def _read_line(sock: socket.socket, deadline: _Deadline, buf: bytearray) -> bytes:
    while b"\n" not in buf:
        if len(buf) > MAX_LINE_BYTES:
            raise SourceError("starttls_failed", "line too long: not the expected protocol")
        sock.settimeout(deadline.left())
        chunk = sock.recv(1024)
        if not chunk:
            raise SourceError("connection_reset", "closed during STARTTLS")
        buf += chunk
    line, _, rest = bytes(buf).partition(b"\n")
    buf[:] = rest
    return line.rstrip(b"\r")


def _smtp_reply(sock: socket.socket, deadline: _Deadline, buf: bytearray) -> tuple[str, str]:
    """A whole (multi-line) SMTP reply: (code, text)."""
    lines, total = [], 0
    while True:
        line = _read_line(sock, deadline, buf)
        total += len(line)
        if total > MAX_REPLY_BYTES or len(line) < 3 or not line[:3].isdigit():
            raise SourceError("starttls_failed", f"not an SMTP reply: {line[:60]!r}")
        lines.append(line[4:].decode("ascii", "replace"))
        if line[3:4] != b"-":
            return line[:3].decode(), " ".join(lines)


def _starttls(sock: socket.socket, kind: str, deadline: _Deadline) -> None:
    buf = bytearray()
    if kind == "smtp":
        code, text = _smtp_reply(sock, deadline, buf)
        if code != "220":
            raise SourceError("starttls_failed", f"SMTP greeting {code} {text[:80]}")
        sock.sendall(b"EHLO napops-certs\r\n")
        code, text = _smtp_reply(sock, deadline, buf)
        if code != "250":
            raise SourceError("starttls_failed", f"EHLO answered {code} {text[:80]}")
        sock.sendall(b"STARTTLS\r\n")
        code, text = _smtp_reply(sock, deadline, buf)
        if code != "220":
            raise SourceError("starttls_failed", f"STARTTLS answered {code} {text[:80]}")
    elif kind == "imap":
        greeting = _read_line(sock, deadline, buf)
        if not greeting.startswith(b"* OK"):
            raise SourceError("starttls_failed", f"not an IMAP greeting: {greeting[:60]!r}")
        sock.sendall(b"a001 STARTTLS\r\n")
        for _ in range(64):
            line = _read_line(sock, deadline, buf)
            if line.startswith(b"a001 "):
                if line.startswith(b"a001 OK"):
                    return
                raise SourceError("starttls_failed", f"IMAP STARTTLS: {line[:80]!r}")
        raise SourceError("starttls_failed", "IMAP: no tagged answer to STARTTLS")
    elif kind == "postgres":
        sock.sendall(PG_SSL_REQUEST)
        sock.settimeout(deadline.left())
        answer = sock.recv(1)
        if answer == b"N":
            raise SourceError("starttls_failed", "PostgreSQL server does not offer SSL")
        if answer != b"S":
            raise SourceError("starttls_failed", f"not a PostgreSQL SSL answer: {answer!r}")
    else:  # pragma: no cover - the schema's enum
        raise SourceError("invalid_target", f"unknown STARTTLS kind {kind!r}")
    if buf:
        raise SourceError("starttls_failed", "server sent data before the TLS handshake")


def _tls_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # verification is ours, against our trust store
    return ctx


_CONTEXT = _tls_context()


_ENCODING_DER = getattr(getattr(ssl, "_ssl", None), "ENCODING_DER", 1)


def _peer_chain(tls: ssl.SSLSocket) -> list[x509.Certificate]:
    """The chain as presented (Python 3.13 has it public; 3.11/3.12 privately), else
    at least the leaf."""
    sslobj = getattr(tls, "_sslobj", None)
    chain_of = getattr(tls, "get_unverified_chain", None) or getattr(
        sslobj, "get_unverified_chain", None
    )
    ders: list[bytes] = []
    for cert in (chain_of() if chain_of is not None else None) or []:
        ders.append(cert if isinstance(cert, bytes) else cert.public_bytes(_ENCODING_DER))
    if not ders:
        leaf = tls.getpeercert(binary_form=True)
        if leaf:
            ders.append(leaf)
    if not ders:
        raise SourceError("no_certificate", "the server presented no certificate")
    return [x509.load_der_x509_certificate(d) for d in ders]


_SSL_NOT_TLS = (
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "UNKNOWN_PROTOCOL",
    "HTTP_REQUEST",
    "RECORD_TOO_LARGE",
)


def _classify(exc: BaseException, deadline: _Deadline) -> SourceError:
    if isinstance(exc, SourceError):
        return exc
    if deadline.fired or isinstance(exc, (TimeoutError, socket.timeout)):
        return SourceError("timeout", "no complete answer within the timeout")
    if isinstance(exc, socket.gaierror):
        return SourceError("dns_failure", str(exc.strerror))
    if isinstance(exc, ConnectionRefusedError):
        return SourceError("connection_refused", "nothing listens there")
    if isinstance(
        exc,
        (
            ssl.SSLEOFError,
            ssl.SSLZeroReturnError,
            ConnectionResetError,
            BrokenPipeError,
            ConnectionAbortedError,
        ),
    ):
        return SourceError("connection_reset", "the connection was closed during the handshake")
    if isinstance(exc, ssl.SSLError):
        text = f"{exc.reason or ''} {exc}"
        if any(marker in text for marker in _SSL_NOT_TLS):
            return SourceError("not_tls", "the server does not speak TLS there")
        return SourceError("tls_handshake_failed", str(exc.reason or exc))
    if isinstance(exc, OSError) and exc.errno in (
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EADDRNOTAVAIL,
        errno.EAFNOSUPPORT,
    ):
        return SourceError("unreachable", exc.strerror or str(exc))
    if isinstance(exc, OSError):
        return SourceError("connection_reset", exc.strerror or str(exc))
    return SourceError("tls_handshake_failed", f"{type(exc).__name__}: {exc}")


class _Resolver:
    """getaddrinfo in a pool of reused threads: the C call cannot be interrupted, so a probe
    waits for it at most until its deadline and reports a timeout while the call finishes in
    the pool. (A thread started per probe cost as much as the resolving itself.)"""

    WORKERS = 64  # twice the largest useful concurrency: a few hung look-ups leave room

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._owner = 0  # the process the pool's threads belong to (a forked child has none)

    def resolve(self, host: str, port: int, deadline: _Deadline) -> list[Any]:
        if is_ip(host):  # nothing to look up: answered at once
            return socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )
        with self._lock:
            if self._pool is None or self._owner != os.getpid():
                self._owner = os.getpid()
                self._pool = ThreadPoolExecutor(self.WORKERS, thread_name_prefix="certs-resolve")
            pool = self._pool
        future = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            return list(future.result(timeout=deadline.left()))
        except TimeoutError:
            deadline.fired = True
            raise SourceError(
                "timeout", f"no answer to the name look-up of {host} within the timeout"
            ) from None


_RESOLVER = _Resolver()


def _connect(host: str, port: int, deadline: _Deadline) -> socket.socket:
    error: OSError | None = None
    for family, kind, proto, _, address in _RESOLVER.resolve(host, port, deadline):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.left())
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"no address for {host}")


def fetch_endpoint(target: Target) -> list[x509.Certificate]:
    """Connect, STARTTLS when configured, handshake, and return the presented chain (leaf
    first). Raises SourceError; never takes much longer than ``target.timeout``."""
    deadline = _Deadline(target.timeout)
    sock: socket.socket | None = None
    try:
        sock = _connect(target.host, target.port, deadline)
        deadline.watch(sock)
        if target.starttls:
            _starttls(sock, target.starttls, deadline)
        sock.settimeout(deadline.left())
        sni = target.server_name if target.server_name and not is_ip(target.server_name) else None
        with _CONTEXT.wrap_socket(sock, server_hostname=sni, do_handshake_on_connect=False) as tls:
            tls.settimeout(deadline.left())
            tls.do_handshake()
            return _peer_chain(tls)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reason
        raise _classify(exc, deadline) from None
    finally:
        deadline.cancel()
        if sock is not None:
            sock.close()
