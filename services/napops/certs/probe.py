"""Probe rounds: every target probed with its own timeout by a bounded thread pool, the
results kept in a :class:`Cache` that /metrics and the CLI read.

Pure of wiring: the clock and the trust-store reader are passed in, so tests drive it with
real listeners and files but without the sidecar around it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509

from .inspect import CertInfo, info
from .sources import FileTargets, SourceError, Target, endpoint_targets, fetch_endpoint, read_file
from .verify import TrustStore, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CertResult:
    info: CertInfo
    verification: str  # one of verify.REASONS
    acme: bool

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            **self.info.as_dict(),
            "seconds_left": self.info.seconds_left(now),
            "verification": self.verification,
            "acme": self.acme,
        }


@dataclass(frozen=True)
class ProbeResult:
    target: str
    kind: str
    reason: str  # "ok" or one of sources.REASONS
    detail: str
    duration: float
    timestamp: float
    certs: tuple[CertResult, ...] = ()

    @property
    def success(self) -> bool:
        return self.reason == "ok"

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "success": self.success,
            "reason": self.reason,
            "detail": self.detail,
            "duration_seconds": round(self.duration, 4),
            "timestamp": self.timestamp,
            "certificates": [c.as_dict(now) for c in self.certs],
        }


@dataclass
class Round:
    """What the last round saw, as a whole."""

    results: list[ProbeResult] = field(default_factory=list)
    started: float = 0.0
    duration: float = 0.0
    trust_roots: int = 0


class Cache:
    """The last round, replaced atomically; readers never wait for a round. Subscribers
    (the /metrics exposition) are called with each new round in the thread that put it, so
    whatever they derive from it is ready before the next scrape."""

    def __init__(self) -> None:
        self._round = Round()
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Round], None]] = []

    def subscribe(self, fn: Callable[[Round], None]) -> None:
        self._subscribers.append(fn)

    def put(self, rnd: Round) -> None:
        with self._lock:
            self._round = rnd
        for fn in self._subscribers:
            fn(rnd)

    def get(self) -> Round:
        with self._lock:
            return self._round


def load_trust_store(paths: Sequence[str]) -> TrustStore:
    blobs: list[bytes] = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                blobs.append(fh.read())
        except OSError as exc:
            log.error(
                "trust store %s unreadable: %s",
                path,
                exc.strerror,
                extra={"event": "trust_store_unreadable", "path": path},
            )
    try:
        return TrustStore.from_pem(blobs)
    except ValueError as exc:
        log.error("trust store unparsable: %s", exc, extra={"event": "trust_store_invalid"})
        return TrustStore()


def _stamp(path: str) -> tuple[str, float, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1.0, -1)
    return (path, st.st_mtime, st.st_size)


class Prober:
    """Probes the configured targets (and ad-hoc ones for /probe)."""

    def __init__(
        self,
        section: Mapping[str, Any],
        clock: Callable[[], float] = time.time,
        trust_loader: Callable[[Sequence[str]], TrustStore] = load_trust_store,
    ):
        self.section = section
        self.clock = clock
        self._trust_loader = trust_loader
        self._files = FileTargets(section)
        self._endpoints = endpoint_targets(section)
        self._acme = [re.compile(p) for p in section.get("acme_issuers", [])]
        self._last: dict[str, ProbeResult] = {}
        self._store: tuple[tuple[Any, ...], TrustStore] | None = None

    def targets(self) -> list[Target]:
        return [*self._endpoints, *self._files.current()]

    def trust_store(self) -> TrustStore:
        """The trust store, re-read only when one of its files changed."""
        paths = list(self.section.get("trust_store", []))
        key = tuple(_stamp(p) for p in paths)
        if self._store is None or self._store[0] != key:
            self._store = (key, self._trust_loader(paths))
        return self._store[1]

    def _cert_results(
        self, certs: list[x509.Certificate], target: Target, store: TrustStore, now: float
    ) -> tuple[CertResult, ...]:
        if target.contents == "bundle":
            out = []
            for i, cert in enumerate(certs):
                others = certs[:i] + certs[i + 1 :]
                out.append(self._one(cert, verify([cert, *others], store, now, None)))
            return tuple(out)
        return (self._one(certs[0], verify(certs, store, now, target.server_name)),)

    def _one(self, cert: x509.Certificate, reason: str) -> CertResult:
        facts = info(cert)
        return CertResult(facts, reason, any(p.search(facts.issuer_cn) for p in self._acme))

    def probe(self, target: Target, store: TrustStore) -> ProbeResult:
        """One target, never raising: a failure is a result with its reason."""
        started, t0 = self.clock(), time.monotonic()
        try:
            if target.problem is not None:
                raise target.problem
            if target.kind == "endpoint":
                certs = fetch_endpoint(target)
            else:
                certs = read_file(target.name, target.contents)
            results = self._cert_results(certs, target, store, self.clock())
            reason, detail = "ok", ""
        except SourceError as exc:
            results, reason, detail = (), exc.reason, exc.detail
        except Exception as exc:  # noqa: BLE001 - one odd target must not stop the round
            log.exception("probe of %s failed unexpectedly", target.name)
            results, reason, detail = (), "tls_handshake_failed", f"{type(exc).__name__}: {exc}"
        return ProbeResult(
            target.name, target.kind, reason, detail, time.monotonic() - t0, started, results
        )

    def _carry_over(self, result: ProbeResult) -> ProbeResult:
        """A failed probe keeps the certificates its target last showed (probe_success says
        it failed), so an outage of the probe path does not make expiry alerts resolve."""
        before = self._last.get(result.target)
        if result.success or before is None or not before.certs:
            return result
        return replace(result, certs=before.certs)

    def remember(self, rnd: Round) -> Round:
        """``rnd`` with the carry-over applied; its results become the ones to carry from."""
        results = [self._carry_over(r) for r in rnd.results]
        self._last = {r.target: r for r in results}
        return replace(rnd, results=results)

    def probe_all(
        self,
        targets: Sequence[Target],
        on_progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Round:
        """Probe ``targets``, ``concurrency`` at a time, without carry-over (see
        :meth:`remember`); runs in the sidecar's child process (worker.py) or here."""
        started, t0 = self.clock(), time.monotonic()
        store = self.trust_store()
        results: list[ProbeResult] = []
        workers = max(1, min(int(self.section["concurrency"]), len(targets)))

        def one(target: Target) -> ProbeResult:
            if should_stop is not None and should_stop():
                return ProbeResult(target.name, target.kind, "timeout", "shutting down", 0, 0)
            return self.probe(target, store)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="certs-probe") as pool:
            for result in pool.map(one, targets):
                results.append(result)
                if on_progress is not None:
                    on_progress(len(results), len(targets))
        return Round(results, started, time.monotonic() - t0, len(store.roots))

    def round(
        self,
        on_progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Round:
        """Probe every target in this process; returns the finished round (carried over)."""
        return self.remember(self.probe_all(self.targets(), on_progress, should_stop))
