"""What bounds a probe: its deadline (one watchdog thread shuts a probe's socket down when its
time is up, so a read that would block ends at once; a cancelled deadline never fires) and its
name look-up (getaddrinfo in a pool of reused threads, waited for until the deadline).
getaddrinfo is replaced here: a hanging or failing DNS server is not something the tests reach."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from napops.certs import sources
from napops.certs.sources import SourceError, Target, _Deadline, fetch_endpoint


def test_a_due_deadline_ends_a_blocking_read() -> None:
    ours, theirs = socket.socketpair()
    try:
        deadline = _Deadline(0.2)
        deadline.watch(ours)
        ours.settimeout(10)  # far past the deadline: a watchdog that never fires fails here
        t0 = time.monotonic()
        assert ours.recv(16) == b""  # shut down under the read
        assert deadline.fired and time.monotonic() - t0 >= 0.19
    finally:
        ours.close()
        theirs.close()


def test_deadlines_fire_in_order_of_their_end_and_cancelled_ones_never() -> None:
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        late, early, cancelled = (_Deadline(s) for s in (30.0, 0.2, 0.1))
        late.watch(pairs[0][0])  # the watchdog first waits for this one ...
        early.watch(pairs[1][0])  # ... and must wake up for an earlier one
        cancelled.watch(pairs[2][0])
        cancelled.cancel()
        pairs[1][0].settimeout(10)
        assert pairs[1][0].recv(16) == b""  # well before 10 s: early fired
        assert early.fired and not late.fired
        time.sleep(0.2)
        assert not cancelled.fired
        pairs[2][1].sendall(b"x")
        assert pairs[2][0].recv(16) == b"x"  # still open
    finally:
        late.cancel()
        for a, b in pairs:
            a.close()
            b.close()


def endpoint(host: str, timeout: float) -> Target:
    return Target(f"{host}:443", "endpoint", timeout, host=host, port=443)


def test_a_look_up_that_hangs_is_a_timeout_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hanging(*args: object, **kwargs: object) -> list[object]:
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(sources.socket, "getaddrinfo", hanging)
    try:
        t0 = time.monotonic()
        with pytest.raises(SourceError) as err:
            fetch_endpoint(endpoint("dms.example.test", 0.3))
        assert err.value.reason == "timeout"
        assert err.value.detail == (
            "no answer to the name look-up of dms.example.test within the timeout"
        )
        assert time.monotonic() - t0 < 10  # the deadline, not the look-up, ended it
    finally:
        release.set()


def test_a_failed_look_up_is_a_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(sources.socket, "getaddrinfo", failing)
    with pytest.raises(SourceError) as err:
        fetch_endpoint(endpoint("nowhere.example.test", 5))
    assert err.value.reason == "dns_failure" and "not known" in err.value.detail


def test_an_address_is_not_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = socket.getaddrinfo

    def numeric_only(*args: object, **kwargs: object) -> list[object]:
        calls.append(int(kwargs.get("flags", 0)))  # type: ignore[call-overload]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sources.socket, "getaddrinfo", numeric_only)
    ((family, *_),) = sources._RESOLVER.resolve("127.0.0.1", 9, _Deadline(5))
    assert family == socket.AF_INET and calls == [socket.AI_NUMERICHOST]
