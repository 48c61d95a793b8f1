"""Helpers for tests: tool requirements, polling with a deadline, free ports. What tests run
besides the code under test (processes, Prometheus, Alertmanager, stand-ins) is tests/support."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
ALLOY = ROOT / "loki" / "alloy" / "config.alloy"
# the five napops sidecars (console scripts napops-<name>, compose services of napops.yml)
SIDECARS = ("relay", "certs", "deploy", "backup", "compliance")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

T = TypeVar("T")


def missing(what: str) -> None:
    """Skip locally, but fail in CI: there a missing tool is a broken set-up, not a skip."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) but is missing")
    pytest.skip(f"{what} is missing")


def require_tool(name: str) -> str:
    """Path of executable ``name``; skips (fails in CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        missing(f"tool {name!r}")
    assert path is not None
    return path


def require_docker() -> None:
    """A reachable Docker Engine and the Compose v2 plugin, or skip (fail in CI). Asked once
    per test process: a yes stands (an engine lost later fails the test that uses it)."""
    if not _DOCKER_OK:
        _check_docker()
        _DOCKER_OK.append(True)


_DOCKER_OK: list[bool] = []


def _check_docker() -> None:
    require_tool("docker")
    ok = subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    if not ok:
        missing("a running Docker Engine")
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    if compose.returncode != 0:
        missing("the Docker Compose v2 plugin")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds.

    Exceptions raised by the predicate count as "not yet" and the last one is reported, except
    an AssertionError, which fails at once (the predicate knows it cannot come true, e.g. the
    process it waits for has exited).
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - polling: any failure means not yet
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last!r}")


def holds_for(
    predicate: Callable[[], object], seconds: float, interval: float = 0.1, what: str = "condition"
) -> None:
    """Check that ``predicate`` stays true for ``seconds``: polled every ``interval``, failing
    the moment it is false (an absence check: "nothing more arrives"). The bound is the time
    in which the thing checked would have happened if it were going to."""
    deadline = time.monotonic() + seconds
    while True:
        assert predicate(), f"{what} stopped holding before {seconds}s were up"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def serving(argv: list[str], ready_url: str, what: str, stop_timeout: float = 20) -> Any:
    """Run a server process until the block ends; yields ``ready_url`` once it answers 200.
    The runner is support.process.serving (re-exported here for the tests that use it)."""
    from support.process import serving as run

    return run(argv, ready_url, what, stop_timeout=stop_timeout)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 and a port fixed at creation: ``stop()`` makes it refuse
    connections (an outage), ``start()`` brings it back on the same port. Subclasses give
    the request handler class in ``handler()``."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# Ports handed out by free_port() come from below the kernel's ephemeral range (32768-60999
# on Linux), where outgoing connections (a load generator's thousands of them, in a parallel
# worker) never take them between the test's choice and the server's bind. Each pytest-xdist
# worker draws from a slice of its own, so two workers never pick the same port (a pick is
# free when checked, but its server may bind only seconds later); random within the slice,
# and never twice in one process.
PORT_RANGE = (15000, 32000)
_handed_out: set[int] = set()


def port_range() -> tuple[int, int]:
    """This process's slice of PORT_RANGE: the whole range outside pytest-xdist."""
    low, high = PORT_RANGE
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if not worker.startswith("gw") or count <= 1:
        return low, high
    size = (high - low + 1) // count
    start = low + int(worker[2:]) % count * size
    return start, start + size - 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (see PORT_RANGE)."""
    for _ in range(200):
        port = random.randint(*port_range())  # noqa: S311 - not for security
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise AssertionError(f"no free port in {PORT_RANGE} after 200 tries")


BENCHMARKS = ROOT / "docs" / "benchmarks.md"


def record_benchmark(section: str, markdown: str) -> None:
    """Replace the block between ``<!-- bench:SECTION -->`` markers in docs/benchmarks.md.

    Each benchmark owns one section, so benchmarks can be re-run in any order. The block is
    appended when missing. Only `make bench` calls this.
    """
    import fcntl

    start, end = f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    with open(BENCHMARKS, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        text = fh.read()
        if start in text and end in text:
            head, rest = text.split(start, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        fh.seek(0)
        fh.truncate()
        fh.write(text)


def machine_line() -> str:
    """One line naming the machine a benchmark ran on (for docs/benchmarks.md)."""
    import platform

    mem_kb = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            mem_kb = int(fh.readline().split()[1])
    except OSError:
        pass
    return (
        f"{platform.node()}: {os.cpu_count()} cores, {mem_kb / 1048576:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )


def napops_image() -> str:
    """The napops image `make images` built (not rebuilt here: the tag is shared), or
    ``$NAPOPS_IMAGE``; missing (a failure in CI) when the engine does not have it."""
    version = next(
        line.split('"')[1]
        for line in (ROOT / "services" / "pyproject.toml").read_text().splitlines()
        if line.startswith("version = ")
    )
    tag = os.environ.get("NAPOPS_IMAGE", f"napops/napops:{version}")
    found = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    if found.returncode != 0:
        missing(f"the napops image {tag} (run `make images`)")
    return tag
