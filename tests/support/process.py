"""One runner for the external programs tests start (Prometheus, Alertmanager, exporters, the
relay, ...): start it with its output in a log file, wait until it is ready, stop it. A process
that exits early or never gets ready fails the test with the end of its log."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from helpers import wait_for

LOG_TAIL_CHARS = 3000


class Process:
    """``argv`` as a child process whose standard output and error go to ``log`` (appended,
    so a restarted process keeps the earlier output)."""

    def __init__(
        self,
        argv: Sequence[str],
        log: Path,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.argv = [str(a) for a in argv]
        self.log = Path(log)
        self.name = name or Path(self.argv[0]).name
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        assert not self.running, f"{self.name} is already running"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return text[-chars:] or "(no output)"

    def check_alive(self) -> None:
        """AssertionError with the log's tail when the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with status {self.proc.returncode}; its output "
                f"({self.log}):\n{self.log_tail()}"
            )

    def wait_ready(
        self, ready: Callable[[], object], timeout: float = 30, what: str | None = None
    ) -> Self:
        """Poll ``ready`` (exceptions mean not yet) until it is true; fail at once when the
        process exits, or after ``timeout`` seconds, with the log's tail."""

        def probe() -> object:
            self.check_alive()
            return ready()

        try:
            wait_for(probe, timeout=timeout, what=what or f"{self.name} ready")
        except AssertionError as exc:
            if "exited with status" in str(exc):
                raise
            tail = self.log_tail()
            raise AssertionError(f"{exc}\n{self.name}'s output ({self.log}):\n{tail}") from None
        return self

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit by itself; its exit status."""
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.wait(timeout=timeout)

    def send_signal(self, sig: int) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 20, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` and wait; SIGKILL after ``timeout`` seconds. Returns the exit status
        (None when it was not started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop at once (a crash, by default) and forget the process; start() runs it again."""
        self.stop(timeout=20, sig=sig)
        self.proc = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Server(Process):
    """A Process that serves HTTP on 127.0.0.1:``port``; ready when ``ready_path`` answers 200."""

    def __init__(
        self,
        argv: Sequence[str],
        log: Path,
        port: int,
        ready_path: str = "/-/ready",
        name: str | None = None,
        env: Mapping[str, str] | None = None,
    ):
        super().__init__(argv, log, name=name, env=env)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ready_path = ready_path

    def wait_ready_http(self, timeout: float = 30) -> Self:
        """Wait until ``ready_path`` answers 200 (fail at once if the process exits)."""
        return self.wait_ready(http_ok(self.url + self.ready_path), timeout=timeout)

    def start_ready(self, timeout: float = 30) -> Self:
        """Start, and wait until ready."""
        return self.start().wait_ready_http(timeout)


def http_ok(url: str, timeout: float = 2) -> Callable[[], bool]:
    """A readiness check: GET ``url`` answers 200."""

    def check() -> bool:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)

    return check


@contextmanager
def running(
    argv: Sequence[str],
    log: Path,
    ready: Callable[[], object] | None = None,
    what: str | None = None,
    timeout: float = 30,
    stop_timeout: float = 20,
    env: Mapping[str, str] | None = None,
) -> Iterator[Process]:
    """Run ``argv`` until the block ends (waiting for ``ready`` first, when given)."""
    proc = Process(argv, log, name=what, env=env).start()
    try:
        if ready is not None:
            proc.wait_ready(ready, timeout=timeout, what=what and f"{what} ready")
        yield proc
    finally:
        proc.stop(timeout=stop_timeout)


@contextmanager
def serving(
    argv: list[str], ready_url: str, what: str, stop_timeout: float = 20, log: Path | None = None
) -> Iterator[str]:
    """Run a server process until the block ends; yields ``ready_url`` once it answers 200.
    Its output goes to ``log`` (a temporary file by default) and into a failure message."""
    with tempfile.TemporaryDirectory(prefix="napops-test-") as scratch:
        path = log or Path(scratch) / f"{what.replace(' ', '-')}.log"
        with running(argv, path, http_ok(ready_url), what=what, stop_timeout=stop_timeout):
            yield ready_url
