"""The exported series, built from the cached :class:`~.probe.Round`: once per round, so a
scrape costs no probing and, through :class:`Exposition`, no formatting of hundreds of series
either. Seconds to expiry are as of the end of the round (a round runs every minute).

Every family is always declared (empty when nothing was probed yet). Labels are bounded:
the configured target or file, the certificate's subject CN, issuer CN and serial, and
closed sets (``reason``, ``kind``, ``acme``).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .probe import Cache, Round

PREFIX = "napops_certs_"
CERT_LABELS = ["target", "kind", "subject_cn", "issuer_cn", "serial", "acme"]


def families(rnd: Round) -> list[GaugeMetricFamily]:
    now = rnd.started + rnd.duration
    g = GaugeMetricFamily
    not_after = g(
        "napops_certs_not_after_timestamp_seconds",
        "End of the certificate's validity (also when expired or invalid).",
        labels=CERT_LABELS,
    )
    not_before = g(
        "napops_certs_not_before_timestamp_seconds",
        "Start of the certificate's validity.",
        labels=CERT_LABELS,
    )
    expiry = g(
        "napops_certs_expiry_seconds",
        "Seconds until the certificate expires, as of the last probe (negative: expired).",
        labels=CERT_LABELS,
    )
    verified = g(
        "napops_certs_verification_ok",
        "1 when the certificate verifies against the trust store for its name; reason says "
        "why not (ok, expired, not_yet_valid, self_signed, unknown_issuer, "
        "expired_intermediate, hostname_mismatch, bad_signature).",
        labels=[*CERT_LABELS, "reason"],
    )
    success = g(
        "napops_certs_probe_success",
        "1 when the target's certificate could be read; reason says why not.",
        labels=["target", "kind", "reason"],
    )
    duration = g(
        "napops_certs_probe_duration_seconds",
        "How long the target's last probe took.",
        labels=["target", "kind"],
    )
    stamp = g(
        "napops_certs_probe_timestamp_seconds",
        "When the target was last probed.",
        labels=["target", "kind"],
    )
    round_duration = g("napops_certs_round_duration_seconds", "How long the last probe round took.")
    round_stamp = g(
        "napops_certs_round_timestamp_seconds", "When the last probe round started (0: none yet)."
    )
    targets = g("napops_certs_targets", "Targets in the last round.")
    roots = g("napops_certs_trust_store_certificates", "Certificates in the trust store.")
    ren_run = g(
        "napops_certs_renewal_last_run_timestamp_seconds",
        "When the certbot loop last finished a pass (from its status file).",
        labels=["file"],
    )
    ren_ok = g(
        "napops_certs_renewal_last_success_timestamp_seconds",
        "When a certbot pass last succeeded (0: never).",
        labels=["file"],
    )
    ren_fail = g(
        "napops_certs_renewal_consecutive_failures",
        "Failed certbot passes since the last good one.",
        labels=["file"],
    )
    ren_read = g(
        "napops_certs_renewal_status_readable",
        "1 when the certbot status file could be read.",
        labels=["file"],
    )
    for r in rnd.results:
        success.add_metric([r.target, r.kind, r.reason], 1.0 if r.success else 0.0)
        duration.add_metric([r.target, r.kind], r.duration)
        stamp.add_metric([r.target, r.kind], r.timestamp)
        for c in r.certs:
            i = c.info
            labels = [r.target, r.kind, i.subject_cn, i.issuer_cn, i.serial, str(c.acme).lower()]
            not_after.add_metric(labels, i.not_after)
            not_before.add_metric(labels, i.not_before)
            expiry.add_metric(labels, i.not_after - now)
            verified.add_metric([*labels, c.verification], 1.0 if c.verification == "ok" else 0.0)
    for s in rnd.renewals:
        ren_read.add_metric([s.path], 1.0 if s.readable else 0.0)
        if s.readable:
            ren_run.add_metric([s.path], s.last_run)
            ren_ok.add_metric([s.path], s.last_success)
            ren_fail.add_metric([s.path], s.consecutive_failures)
    round_duration.add_metric([], rnd.duration)
    round_stamp.add_metric([], rnd.started)
    targets.add_metric([], len(rnd.results))
    roots.add_metric([], rnd.trust_roots)
    return [
        not_after,
        not_before,
        expiry,
        verified,
        success,
        duration,
        stamp,
        round_duration,
        round_stamp,
        targets,
        roots,
        ren_run,
        ren_ok,
        ren_fail,
        ren_read,
    ]


class CertsCollector(Collector):
    """Reads the cache: no probing happens on a scrape; families are built once a round."""

    def __init__(self, cache: Cache):
        self.cache = cache
        self._lock = threading.Lock()
        self._round: Round | None = None
        self._families: list[GaugeMetricFamily] = []

    def collect(self) -> Iterator[Metric]:
        rnd = self.cache.get()
        with self._lock:
            if rnd is not self._round:
                self._round, self._families = rnd, families(rnd)
            out = self._families
        yield from out


class _Only:
    def __init__(self, collector: Collector):
        self.collector = collector

    def collect(self) -> Iterator[Metric]:
        yield from self.collector.collect()


class _Without:
    def __init__(self, registry: CollectorRegistry, prefix: str):
        self.registry, self.prefix = registry, prefix

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            if not metric.name.startswith(self.prefix):
                yield metric


class Exposition:
    """The /metrics body: the sidecar's other series formatted at each scrape, the
    napops_certs_* ones formatted (and gzip-compressed) once per round."""

    def __init__(self, registry: CollectorRegistry, collector: CertsCollector):
        self.others = _Without(registry, PREFIX)
        self.collector = collector
        self._lock = threading.Lock()
        self._round: Round | None = None
        self._text = b""
        self._gz = b""

    def certs_text(self, compressed: bool = False) -> bytes:
        rnd = self.collector.cache.get()
        with self._lock:
            if rnd is not self._round:
                self._round = rnd
                self._text = generate_latest(_Only(self.collector))
                self._gz = gzip.compress(self._text, 6)
            return self._gz if compressed else self._text

    def render(self, compressed: bool = False) -> bytes:
        others = generate_latest(self.others)
        if compressed:  # gzip members concatenate: the cached one needs no new work
            return gzip.compress(others, 1) + self.certs_text(True)
        return others + self.certs_text()
