"""The compliance sidecar's metrics (``napops_compliance_*``), rebuilt after each audit.

Results are exported as a snapshot (a custom collector over the last audit), so a container
that went away stops being reported instead of keeping a stale series.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .audit import Finding, ratio
from .health import STATUSES, ContainerHealth
from .trivy import SEVERITIES, ImageVulns


@dataclass
class Snapshot:
    findings: list[Finding] = field(default_factory=list)
    vulns: dict[str, ImageVulns] = field(default_factory=dict)
    drift: dict[str, int] = field(default_factory=dict)  # stack/service -> differences
    health: list[ContainerHealth] = field(default_factory=list)


class _Collector(Collector):
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.snapshot
        check = GaugeMetricFamily(
            "napops_compliance_check",
            "1 for the check's result of a container (pass, fail, waived, n/a).",
            labels=["stack", "service", "check", "cis", "result"],
        )
        for f in snap.findings:
            if f.source == "runtime":
                check.add_metric([f.stack, f.service, f.check, f.cis, f.result], 1)
        yield check
        ratio_family = GaugeMetricFamily(
            "napops_compliance_ratio",
            "Passed or waived over applicable checks, per stack (runtime audit).",
            labels=["stack"],
        )
        for stack, value in sorted(
            ratio(f for f in snap.findings if f.source == "runtime").items()
        ):
            ratio_family.add_metric([stack], value)
        yield ratio_family
        vulns = GaugeMetricFamily(
            "napops_compliance_vulnerabilities",
            "Vulnerabilities per image and severity.",
            labels=["image", "vuln_severity"],
        )
        fixable = GaugeMetricFamily(
            "napops_compliance_vulnerabilities_fixable",
            "Vulnerabilities with a fixed version available, per image and severity.",
            labels=["image", "vuln_severity"],
        )
        scanned = GaugeMetricFamily(
            "napops_compliance_image_scan_timestamp_seconds",
            "When the newest scan of the image was made.",
            labels=["image"],
        )
        for image, v in sorted(snap.vulns.items()):
            for sev in SEVERITIES:
                vulns.add_metric([image, sev], v.counts[sev])
                fixable.add_metric([image, sev], v.fixable[sev])
            scanned.add_metric([image], v.scanned_at)
        yield vulns
        yield fixable
        yield scanned
        drift = GaugeMetricFamily(
            "napops_compliance_drift_differences",
            "Differences between a running service and its Compose file.",
            labels=["stack", "service"],
        )
        for key, count in sorted(snap.drift.items()):
            stack, _, service = key.partition("/")
            drift.add_metric([stack, service], count)
        yield drift
        health = GaugeMetricFamily(
            "napops_compliance_container_health_status",
            "1 for the container's current Docker health status, 0 for the others (none: no "
            "healthcheck); running containers of the estate's Compose projects only.",
            labels=["project", "service", "container", "status"],
        )
        streak = GaugeMetricFamily(
            "napops_compliance_container_health_failing_streak",
            "Consecutive failed healthchecks of the container (Docker's FailingStreak); only "
            "containers with a healthcheck.",
            labels=["project", "service", "container"],
        )
        for c in snap.health:
            for status in STATUSES:
                health.add_metric(
                    [c.project, c.service, c.container, status], 1 if c.status == status else 0
                )
            if c.status != "none":
                streak.add_metric([c.project, c.service, c.container], c.failing_streak)
        yield health
        yield streak


class ComplianceMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.snapshot = Snapshot()
        registry.register(_Collector(self.snapshot))
        self.last_audit = Gauge(
            "napops_compliance_last_audit_timestamp_seconds",
            "When the last audit of each kind finished successfully.",
            ["kind"],
            registry=registry,
        )
        self.audit_failed = Gauge(
            "napops_compliance_audit_failed",
            "1 when the last audit of that kind could not be made (Docker down, bad report).",
            ["kind"],
            registry=registry,
        )
        self.errors = Counter(
            "napops_compliance_errors", "Audit errors, by kind.", ["kind"], registry=registry
        )
        for kind in ("runtime", "vulnerabilities", "drift", "health"):
            self.last_audit.labels(kind)
            self.audit_failed.labels(kind)
            self.errors.labels(kind)
