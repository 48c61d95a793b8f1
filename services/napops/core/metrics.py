"""Metrics every sidecar exports."""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Gauge

from .. import __version__


def register_build_info(registry: CollectorRegistry, service: str) -> Gauge:
    """``napops_build_info{service,version,python} 1``: which build runs where."""
    gauge = Gauge(
        "napops_build_info",
        "napops build that is running; always 1.",
        ["service", "version", "python"],
        registry=registry,
    )
    gauge.labels(service, __version__, platform.python_version()).set(1)
    return gauge
