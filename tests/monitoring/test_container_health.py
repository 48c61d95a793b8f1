"""ContainerUnhealthy waits long enough that one more failed healthcheck does not page.

Docker marks a container healthy again after a single passing check, so a container that
fails one check after turning unhealthy and passes the next is unhealthy for at most one
healthcheck interval. The rule's `for:` must outlast two of the longest intervals any service
of the estate uses (compose/stacks and the environments' overlays), or such a blip would alert.
The alert itself is proven on series with the real scrape labels in
prometheus/tests/containers.test.yml.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from monitoring_files import alert_rules, load_yaml
from test_watchdog_timing import seconds

from helpers import ROOT

COMPOSE = ROOT / "compose"


def healthcheck_intervals() -> Iterator[tuple[str, str, float]]:
    files = sorted(COMPOSE.glob("stacks/*.yml")) + sorted(COMPOSE.glob("env/*/*.yml"))
    for path in files:
        doc: dict[str, Any] = load_yaml(path) or {}
        for name, service in (doc.get("services") or {}).items():
            interval = ((service or {}).get("healthcheck") or {}).get("interval")
            if interval:
                yield str(path.relative_to(ROOT)), name, seconds(str(interval))


def test_container_unhealthy_outlasts_two_healthcheck_intervals() -> None:
    [rule] = [r for _, r in alert_rules() if r["alert"] == "ContainerUnhealthy"]
    found = list(healthcheck_intervals())
    assert found, "no healthcheck interval found in compose/"
    where, service, longest = max(found, key=lambda f: f[2])
    assert seconds(rule["for"]) >= 2 * longest, (
        f"ContainerUnhealthy for: {rule['for']} is shorter than two healthcheck intervals of "
        f"{service} ({where}: {longest:.0f}s)"
    )


def test_container_unhealthy_is_per_container() -> None:
    [rule] = [r for _, r in alert_rules() if r["alert"] == "ContainerUnhealthy"]
    expr = " ".join(rule["expr"].split())
    assert "napops_compliance_container_health_status" in expr
    assert not any(agg in expr for agg in ("sum", "count", "increase")), expr
