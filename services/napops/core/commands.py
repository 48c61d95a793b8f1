"""One runner for external programs (restic, nginx -t, certbot, trivy, ...).

Every run has a timeout (the whole process group is killed when it passes), standard output
either captured or streamed to a callback chunk by chunk, standard input optionally fed from
an iterable of byte chunks (a dump streamed from a container into ``restic backup --stdin``),
and the tail of standard error kept for the error message. A non-zero exit becomes a
:class:`CommandFailed` whose reason comes from the caller's ``reasons`` mapping of exit codes
(an unknown code is still a failure, named by its number).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .errors import NapopsError

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 4096
_CHUNK = 1 << 16


class CommandError(NapopsError):
    """A program could not be run, timed out, or exited with a failing status."""

    def __init__(
        self,
        argv: Sequence[str],
        reason: str,
        returncode: int | None = None,
        stderr_tail: str = "",
    ):
        self.argv, self.reason = list(argv), reason
        self.returncode, self.stderr_tail = returncode, stderr_tail
        tail = f": {stderr_tail.strip().splitlines()[-1]}" if stderr_tail.strip() else ""
        super().__init__(f"{os.path.basename(self.argv[0])}: {reason}{tail}")


class CommandNotFound(CommandError):
    pass


class CommandTimeout(CommandError):
    pass


class CommandFailed(CommandError):
    pass


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: bytes  # empty when streamed to a callback
    stderr_tail: str
    duration_seconds: float

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    stdin_chunks: Iterable[bytes] | None = None,
    on_stdout: Callable[[bytes], None] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    ok_codes: Iterable[int] = (0,),
    reasons: Mapping[int, str] | None = None,
) -> Result:
    """Run ``argv`` and wait for it, at most ``timeout`` seconds.

    ``stdin_chunks`` are written to the program's standard input (then closed); an exception
    raised while producing them kills the program and is re-raised. ``on_stdout`` receives
    standard output chunk by chunk instead of capturing it. ``env`` replaces the
    environment when given. Raises CommandNotFound, CommandTimeout, or CommandFailed when the
    exit status is not in ``ok_codes`` (reason from ``reasons``).
    """
    argv = [str(a) for a in argv]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_chunks is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # its own process group, so a timeout kills children too
        )
    except FileNotFoundError:
        raise CommandNotFound(argv, "program not found") from None
    except PermissionError as exc:
        raise CommandNotFound(argv, f"cannot execute: {exc.strerror}") from None
    assert proc.stdout is not None and proc.stderr is not None
    tail: deque[bytes] = deque()
    captured: list[bytes] = []
    feed_error: list[BaseException] = []
    threads = [
        threading.Thread(target=_drain_tail, args=(proc.stderr, tail), daemon=True),
        threading.Thread(
            target=_drain_out, args=(proc.stdout, on_stdout or captured.append), daemon=True
        ),
    ]
    if stdin_chunks is not None:
        threads.append(
            threading.Thread(
                target=_feed, args=(proc, stdin_chunks, feed_error), daemon=True, name="cmd-stdin"
            )
        )
    for t in threads:
        t.start()
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        for t in threads:
            t.join(5)
        raise CommandTimeout(argv, f"timed out after {timeout:g}s", None, _text(tail)) from None
    for t in threads:
        t.join()
    if feed_error:
        raise feed_error[0]
    stderr_tail = _text(tail)
    duration = time.monotonic() - started
    if returncode not in set(ok_codes):
        reason = (reasons or {}).get(returncode) or _signal_reason(returncode)
        raise CommandFailed(argv, reason, returncode, stderr_tail)
    return Result(argv, returncode, b"".join(captured), stderr_tail, duration)


def _signal_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _drain_tail(stream: object, tail: deque[bytes]) -> None:
    size = 0
    for chunk in iter(lambda: stream.read1(_CHUNK), b""):  # type: ignore[attr-defined]
        tail.append(chunk)
        size += len(chunk)
        while size - len(tail[0]) >= STDERR_TAIL_BYTES and len(tail) > 1:
            size -= len(tail.popleft())


def _drain_out(stream: object, sink: Callable[[bytes], None]) -> None:
    for chunk in iter(lambda: stream.read1(_CHUNK), b""):  # type: ignore[attr-defined]
        sink(chunk)


def _feed(
    proc: subprocess.Popen[bytes], chunks: Iterable[bytes], errors: list[BaseException]
) -> None:
    assert proc.stdin is not None
    try:
        for chunk in chunks:
            if chunk:
                proc.stdin.write(chunk)
    except BrokenPipeError:
        pass  # the program stopped reading; its exit status tells why
    except BaseException as exc:  # noqa: BLE001 - the producer failed: stop the program
        errors.append(exc)
        _kill(proc)
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _text(tail: deque[bytes]) -> str:
    data = b"".join(tail)[-STDERR_TAIL_BYTES:]
    return data.decode("utf-8", "replace")
