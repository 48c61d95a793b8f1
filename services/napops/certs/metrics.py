"""The exported series, built from the cached :class:`~.probe.Round`. :class:`Exposition`
formats (and compresses) them once, in the job thread, when a round is put in the cache: a
scrape then costs no probing, no building of series and no formatting of hundreds of them,
only the sidecar's few other series joined to the cached bytes. Seconds to expiry are as of
the end of the round (a round runs every minute). :class:`CertsCollector` builds the same
series for a registry of their own (the ad-hoc /probe endpoint).

Every family is always declared (empty when nothing was probed yet). Labels are bounded:
the configured target or file, the certificate's subject CN, issuer CN and serial, and
closed sets (``reason``, ``kind``, ``acme``).
"""

from __future__ import annotations

import gc
import gzip
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .probe import Cache, Round

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
    ]


class CertsCollector(Collector):
    """The series of the cache's current round, for a registry of their own (/probe)."""

    def __init__(self, cache: Cache):
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        yield from families(self.cache.get())


class _Families:
    def __init__(self, items: list[GaugeMetricFamily]):
        self.items = items

    def collect(self) -> Iterator[Metric]:
        yield from self.items


def render(rnd: Round) -> bytes:
    """The exposition text of one round's series."""
    return generate_latest(_Families(families(rnd)))


class Exposition:
    """The /metrics body: ``registry`` (the sidecar's other series, few) formatted at each
    scrape, followed by the napops_certs_* series of the cache's round, formatted and
    gzip-compressed once per round by :meth:`publish` (subscribed to the cache, so it runs in
    the thread that finished the round). A scrape takes no lock and waits for no round: it
    reads one reference to bytes that are replaced whole."""

    def __init__(self, registry: CollectorRegistry, cache: Cache):
        self.registry = registry
        self._bodies = (b"", b"")
        self.publish(cache.get())
        cache.subscribe(self.publish)

    def publish(self, rnd: Round) -> None:
        text = render(rnd)
        self._bodies = (text, gzip.compress(text, 6))
        # The round left many objects behind; collect them now, in the job's thread, rather
        # than in whichever scrape next crosses the collector's threshold.
        gc.collect()

    def render(self, compressed: bool = False) -> bytes:
        text, gz = self._bodies
        others = generate_latest(self.registry)
        if compressed:  # gzip members concatenate: the cached one needs no new work
            return gzip.compress(others, 1) + gz
        return others + text
