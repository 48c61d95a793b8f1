"""Metrics of the deploy sidecar (``napops_deploy_*``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .rules import EVENTS

UNKNOWN = "unknown"  # image label of a service no deploy has touched yet
RESULTS = ("succeeded", "failed", "rolled_back", "refused")
ROLLBACK_REASONS = ("health", "query", "switch", "restart")
WEBHOOK_OUTCOMES = (
    "queued",
    "ignored",
    "duplicate",
    "bad_signature",
    "bad_request",
    "unsupported_media_type",
    "too_large",
)


class DeployMetrics:
    def __init__(self, registry: CollectorRegistry):
        r = registry
        self.deployments = Counter(
            "napops_deploy_deployments",
            "Finished deployments, by service, environment and result.",
            ["service", "environment", "result"],
            registry=r,
        )
        self.duration = Histogram(
            "napops_deploy_duration_seconds",
            "Time from a deployment's start to its end (lock wait excluded).",
            ["service", "environment"],
            buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200),
            registry=r,
        )
        self.switch = Histogram(
            "napops_deploy_switch_seconds",
            "Time to move the service's network aliases from blue to green.",
            ["service", "environment"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
            registry=r,
        )
        self.rollbacks = Counter(
            "napops_deploy_rollbacks",
            "Automatic rollbacks in the verification window, by reason.",
            ["service", "environment", "reason"],
            registry=r,
        )
        self.rollback_duration = Histogram(
            "napops_deploy_rollback_seconds",
            "Time from a failed verification to blue serving alone again.",
            ["service", "environment"],
            buckets=(1, 2, 5, 10, 20, 30, 60, 120),
            registry=r,
        )
        self.downtime = Histogram(
            "napops_deploy_downtime_seconds",
            "Recreate deploys: time the service had no running container.",
            ["service", "environment"],
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300),
            registry=r,
        )
        self.live = Gauge(
            "napops_deploy_live_info",
            "1 for the image a service serves now and the one its last deploy asked for "
            "(image=unknown until the sidecar has deployed it).",
            ["service", "environment", "image", "requested"],
            registry=r,
        )
        self.lock_wait = Histogram(
            "napops_deploy_lock_wait_seconds",
            "Time a deployment waited for its service's lock.",
            ["service", "environment"],
            buckets=(0.01, 0.1, 1, 5, 15, 60, 300, 900),
            registry=r,
        )
        self.in_progress = Gauge(
            "napops_deploy_in_progress",
            "Deployments running now, by service and environment.",
            ["service", "environment"],
            registry=r,
        )
        self.last_finished = Gauge(
            "napops_deploy_last_finished_timestamp_seconds",
            "When the last deployment of a service finished, by result.",
            ["service", "environment", "result"],
            registry=r,
        )
        self.webhooks = Counter(
            "napops_deploy_webhooks",
            "Gitea deliveries received, by event type and outcome.",
            ["event", "outcome"],
            registry=r,
        )
        self.mismatch = Gauge(
            "napops_deploy_live_mismatch",
            "1 while the image a service serves is not the one its last deploy asked for "
            "(a failed or rolled-back deploy), else 0.",
            ["service", "environment"],
            registry=r,
        )
        for event in (*EVENTS, "other"):
            for outcome in WEBHOOK_OUTCOMES:
                self.webhooks.labels(event, outcome)
        self._live: dict[tuple[str, str], tuple[str, str]] = {}

    def declare(self, service: str, environment: str) -> None:
        """Create the series of a configured service, so they show 0 instead of nothing."""
        for result in RESULTS:
            self.deployments.labels(service, environment, result)
            self.last_finished.labels(service, environment, result)
        for reason in ROLLBACK_REASONS:
            self.rollbacks.labels(service, environment, reason)
        for metric in (
            self.in_progress,
            self.duration,
            self.switch,
            self.rollback_duration,
            self.downtime,
            self.lock_wait,
            self.mismatch,
        ):
            metric.labels(service, environment)
        if (service, environment) not in self._live:
            self.set_live(service, environment, UNKNOWN, UNKNOWN)

    def set_live(self, service: str, environment: str, image: str, requested: str) -> None:
        old = self._live.get((service, environment))
        if old is not None:
            self.live.remove(service, environment, *old)
        self._live[(service, environment)] = (image, requested)
        self.live.labels(service, environment, image, requested).set(1)
        differs = UNKNOWN not in (image, requested) and image != requested
        self.mismatch.labels(service, environment).set(1 if differs else 0)
