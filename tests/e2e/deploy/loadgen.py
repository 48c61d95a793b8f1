"""Load through the edge while a deploy runs, counting three kinds of client apart.

    python loadgen.py URL HOST CONNECTIONS STOPFILE

Half the connections are keep-alive. Of those, half retry an idempotent GET once when a
reused connection closes before any response byte (as browsers and curl do) and half never
retry; the other half of all connections open a new connection per request. A request fails
on any error or a status other than 200. Runs until STOPFILE exists, then prints JSON: per
kind the requests and failures (with samples), and per second the versions answered.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import sys
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit

URL, HOST, CONNECTIONS, STOPFILE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
MAX_SECONDS = 900
PARTS = urlsplit(URL)
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
START = time.monotonic()
lock = threading.Lock()
totals: dict[str, Counter[str]] = defaultdict(Counter)
samples: dict[str, list[str]] = defaultdict(list)
seconds: dict[int, Counter[str]] = defaultdict(Counter)
done = threading.Event()


class SniConnection(http.client.HTTPSConnection):
    """HTTPS to the address in the URL, with HOST as the TLS server name (SNI): the edge
    refuses a handshake without a name it serves."""

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = CTX.wrap_socket(self.sock, server_hostname=HOST)


def connect() -> http.client.HTTPConnection:
    if PARTS.scheme == "https":
        return SniConnection(PARTS.hostname, PARTS.port, timeout=30, context=CTX)
    return http.client.HTTPConnection(PARTS.hostname, PARTS.port, timeout=30)


class NoByte(Exception):
    """The reused connection closed before any byte of the response."""


def once(conn: http.client.HTTPConnection, keep: bool) -> tuple[int, str]:
    headers = {"Host": HOST, "Connection": "keep-alive" if keep else "close"}
    conn.request("GET", PARTS.path, headers=headers)
    try:
        resp = conn.getresponse()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
        raise NoByte(repr(exc)) from None
    body = resp.read().decode().strip()
    return resp.status, body


def record(kind: str, ok: bool, version: str, error: str | None) -> None:
    with lock:
        totals[kind]["requests"] += 1
        if ok:
            seconds[int(time.monotonic() - START)][version] += 1
        else:
            totals[kind]["failed"] += 1
            if len(samples[kind]) < 10:
                samples[kind].append(f"{time.monotonic() - START:.2f}s {error}")


def worker(kind: str) -> None:
    keep = kind != "fresh"
    conn = connect() if keep else None
    used = False
    while not done.is_set():
        if not keep:
            conn, used = connect(), False
        assert conn is not None
        try:
            try:
                status, body = once(conn, keep)
            except NoByte:
                conn.close()
                conn = connect()
                if kind != "keepalive_retry" or not used:
                    raise
                with lock:
                    totals[kind]["retried"] += 1
                status, body = once(conn, keep)
            used = True
            ok = status == 200
            record(kind, ok, body, None if ok else f"status {status}: {body[:80]}")
        except Exception as exc:  # noqa: BLE001 - every error is a failed request
            record(kind, False, "", repr(exc)[:160])
            conn.close()
            conn, used = connect(), False
        if not keep:
            conn.close()


def main() -> None:
    kinds = []
    keepalive = CONNECTIONS // 2
    kinds += ["keepalive_retry"] * (keepalive - keepalive // 2)
    kinds += ["keepalive_noretry"] * (keepalive // 2)
    kinds += ["fresh"] * (CONNECTIONS - keepalive)
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in kinds]
    for t in threads:
        t.start()
    parent = os.getppid()
    # bounded: stop when asked, when the test that started us is gone, or after 15 minutes
    while not os.path.exists(STOPFILE) and os.getppid() == parent:
        if time.monotonic() - START > MAX_SECONDS:
            break
        time.sleep(0.1)
    done.set()
    for t in threads:
        t.join(35)
    print(
        json.dumps(
            {
                "connections": len(kinds),
                "kinds": Counter(kinds),
                "totals": totals,
                "samples": samples,
                "seconds": {str(k): dict(v) for k, v in sorted(seconds.items())},
                "duration": time.monotonic() - START,
            }
        )
    )


main()
