"""Probe rounds in a child process, so the sidecar's HTTP server never competes with the
probe threads for the interpreter lock (a scrape during a round waited for it: see
docs/benchmarks.md, certs).

The parent picks the targets (:class:`~.sources.FileTargets` remembers what the globs found
before) and keeps the carry-over of the last certificates (:meth:`~.probe.Prober.remember`),
the cache and the exposition. The child builds a :class:`~.probe.Prober` from the section,
probes those targets and sends the :class:`~.probe.Round` back through a pipe (plain
dataclasses; the cryptography certificate objects stay in the child), with progress on the
way. Children come from the 'forkserver' context (the sidecar has threads: no plain fork),
whose server has the sidecar's modules imported already (a child re-runs the main script,
which imports napops.certs.main: 0.3 s a round when not preloaded), so a round pays no
interpreter start-up and no imports (an empty round: about 25 ms).

A child that dies, raises or outlives the round's bound makes the round fail with a reason;
shutdown terminates it.
"""

from __future__ import annotations

import gc
import logging
import math
import multiprocessing
import resource
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

from ..core import logs
from ..core.jobs import Interrupted
from .probe import Prober, Round
from .sources import Target

log = logging.getLogger(__name__)

PROGRESS_EVERY = 25  # targets; the job reports every 50
SLACK_SECONDS = 60.0  # on top of the round's bound (every target taking its whole timeout)


class RoundFailed(Exception):
    """The probe process ended without a round."""


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["napops.certs.main"])  # what the child re-imports
    return ctx


def _child(
    section: Mapping[str, Any], targets: Sequence[Target], conn: Connection, level: int
) -> None:
    gc.freeze()  # what the forkserver imported: never collected here, its pages stay shared
    logs.setup("certs", logging.getLevelName(level))

    def progress(done: int, total: int) -> None:
        if done == total or done % PROGRESS_EVERY == 0:
            conn.send(("progress", done, total))

    try:
        rnd = Prober(section).probe_all(targets, on_progress=progress)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        conn.send(("round", rnd, peak))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as the round's failure
        log.exception("probe process failed")
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def bound_seconds(section: Mapping[str, Any], targets: Sequence[Target]) -> float:
    """The longest a round of ``targets`` can take when every probe takes its timeout."""
    if not targets:
        return SLACK_SECONDS
    waves = math.ceil(len(targets) / max(1, int(section["concurrency"])))
    return waves * max(t.timeout for t in targets) + SLACK_SECONDS


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


class ProcessRounds:
    """Runs :meth:`round` of ``prober``'s targets in a child process per round."""

    def __init__(self, prober: Prober):
        self.prober = prober
        self.last_child_peak_rss_bytes = 0
        self._ctx = _context()

    def round(
        self,
        on_progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Round:
        """The finished round (carried over); raises :class:`RoundFailed`, or
        ``Interrupted`` when ``should_stop`` turns true while the child runs."""
        targets = self.prober.targets()
        bound = bound_seconds(self.prober.section, targets)
        deadline = time.monotonic() + bound
        receiver, sender = self._ctx.Pipe(duplex=False)
        section = dict(self.prober.section)
        level = logging.getLogger().getEffectiveLevel()
        proc = self._ctx.Process(
            target=_child, args=(section, targets, sender, level), name="certs-round", daemon=True
        )
        proc.start()
        sender.close()  # the child holds the only writer: EOF when it ends
        rnd: Round | None = None
        try:
            while rnd is None:
                if should_stop is not None and should_stop():
                    raise Interrupted("probe round stopped: shutting down")
                if time.monotonic() > deadline:
                    raise RoundFailed(f"probe process still running after {bound:g} s (its bound)")
                if not receiver.poll(0.2):
                    continue
                try:
                    msg = receiver.recv()
                except EOFError:
                    proc.join(5)
                    raise RoundFailed(
                        f"probe process ended ({_exit_text(proc.exitcode)}) without a round"
                    ) from None
                if msg[0] == "progress" and on_progress is not None:
                    on_progress(msg[1], msg[2])
                elif msg[0] == "round":
                    rnd, self.last_child_peak_rss_bytes = msg[1], msg[2]
                elif msg[0] == "error":
                    raise RoundFailed(f"probe process failed: {msg[1]}")
        finally:
            receiver.close()
            if rnd is not None:
                proc.join(5)  # it exits right after sending its round
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
            proc.close()
        return self.prober.remember(rnd)
