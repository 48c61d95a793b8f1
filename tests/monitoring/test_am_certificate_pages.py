"""One expiring certificate pages once, on the real Alertmanager with the shipped inhibitions.

Two sources alert on certificate expiry: the edge probes (CertificateExpiring, from blackbox's
probe_ssl_earliest_cert_expiry) and the certs sidecar (CertificateExpiringSoon/Critical,
CertificateExpired). Each scenario of prometheus/tests/certificate-pages.test.yml is evaluated
by promtool with the project's rules (derived_alerts.py); exactly the alerts it reports are
posted to a real Alertmanager running alertmanager/alertmanager.yml (am_harness.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from am_harness import Alertmanager, MailSink, WebhookSink, alertmanager
from derived_alerts import fired
from monitoring_files import RULE_TESTS

from helpers import wait_for

pytestmark = pytest.mark.integration

SCENARIOS = RULE_TESTS / "certificate-pages.test.yml"
CRITICAL = "relay:8000/alertmanager?channels=email,rocketchat"


@pytest.fixture
def am(tmp_path: Path) -> Iterator[tuple[Alertmanager, WebhookSink, MailSink]]:
    with alertmanager(tmp_path) as running:
        yield running


def key(labels: dict[str, str]) -> str:
    source = "sidecar" if labels.get("sidecar") == "certs" else "probe"
    where = labels.get("subject_cn") or labels.get("cert_host", "")
    return f"{labels['alertname']}/{labels['severity']}/{source}/{where}"


def marks(manager: Alertmanager, count: int) -> dict[str, bool] | None:
    alerts = manager.alerts()
    if len(alerts) < count:
        return None
    return {key(a["labels"]): bool(a["status"]["inhibitedBy"]) for a in alerts}


def settle(manager: Alertmanager, count: int, expected: dict[str, bool]) -> None:
    """Inhibition marks are set asynchronously: poll, then show what they were."""
    try:
        wait_for(lambda: marks(manager, count) == expected, timeout=15, what="inhibitions")
    except AssertionError:
        assert marks(manager, count) == expected


def derived(scenario: str, at: str, work: Path) -> list[dict[str, str]]:
    alerts = [a.labels for a in fired(SCENARIOS, scenario, at, work)]
    assert alerts, f"promtool reports no alert for {scenario!r} at {at}"
    return alerts


def post_as_they_fire(manager: Alertmanager, scenario: str, work: Path) -> list[dict[str, str]]:
    """Post the scenario's alerts in the order the rules fire them: the sidecar's at once (no
    `for`), the probe's ten minutes later (`for: 10m`). Returns all of them."""
    early = derived(scenario, "5m", work)
    assert {a["alertname"] for a in early}.isdisjoint({"CertificateExpiring"}), early
    manager.post(early)
    wait_for(lambda: len(manager.alerts()) >= len(early), timeout=10, what="the early alerts")
    alerts = derived(scenario, "15m", work)
    manager.post(alerts)
    return alerts


def test_a_critical_expiry_seen_by_both_pages_once(am, tmp_path: Path) -> None:
    manager, hooks, _mail = am
    alerts = post_as_they_fire(manager, "expiring in 5 days, both watch it", tmp_path)
    settle(
        manager,
        len(alerts),
        {
            # lcbp3: the sidecar's alert (subject, issuer, serial) speaks for the certificate
            "CertificateExpiringCritical/critical/sidecar/lcbp3.np-dms.work": False,
            "CertificateExpiring/critical/probe/lcbp3.np-dms.work": True,
            "CertificateExpiring/warning/probe/lcbp3.np-dms.work": True,
            # git: the sidecar does not watch it, so the probe's alert is the page
            "CertificateExpiring/critical/probe/git.np-dms.work": False,
            "CertificateExpiring/warning/probe/git.np-dms.work": True,  # its own critical
        },
    )
    wait_for(lambda: len(hooks.to(CRITICAL)) >= 2, timeout=15, what="critical notifications")
    time.sleep(3)  # group_wait is 1 s: anything else would have been sent by now
    sent = sorted(
        (a["labels"]["alertname"], a["labels"]["cert_host"])
        for n in hooks.to(CRITICAL)
        for a in n.body["alerts"]
    )
    assert sent == [
        ("CertificateExpiring", "git.np-dms.work"),
        ("CertificateExpiringCritical", "lcbp3.np-dms.work"),
    ]


def test_a_warning_seen_by_both_is_one_warning(am, tmp_path: Path) -> None:
    manager, _hooks, _mail = am
    alerts = post_as_they_fire(manager, "expiring in 15 days, both watch it", tmp_path)
    settle(
        manager,
        len(alerts),
        {
            "CertificateExpiringSoon/warning/sidecar/lcbp3.np-dms.work": False,
            "CertificateExpiring/warning/probe/lcbp3.np-dms.work": True,
        },
    )


def test_with_the_sidecar_away_the_probe_still_pages(am, tmp_path: Path) -> None:
    manager, hooks, _mail = am
    alerts = derived("expiring in 5 days, sidecar away", "15m", tmp_path)
    assert {a.get("sidecar") for a in alerts} == {None}  # nothing from the sidecar
    manager.post(alerts)
    settle(
        manager,
        len(alerts),
        {
            "CertificateExpiring/critical/probe/lcbp3.np-dms.work": False,
            "CertificateExpiring/warning/probe/lcbp3.np-dms.work": True,
        },
    )
    wait_for(lambda: hooks.to(CRITICAL), timeout=15, what="the probe's page")
    [page] = hooks.to(CRITICAL)
    assert [a["labels"]["alertname"] for a in page.body["alerts"]] == ["CertificateExpiring"]


def test_the_inhibition_keys_on_the_served_name_only() -> None:
    """Without cert_host on the sidecar's alert (a file, not an endpoint) nothing is
    silenced: equal labels absent on both sides would otherwise match everything."""
    from monitoring_files import ALERTMANAGER, load_yaml

    rules = [
        r
        for r in load_yaml(ALERTMANAGER / "alertmanager.yml")["inhibit_rules"]
        if "equal" in r and "cert_host" in r["equal"]
    ]
    assert len(rules) == 2
    assert all('cert_host=~".+"' in r["source_matchers"] for r in rules)
