"""Outages through the real Alertmanager: the alerts the rules really fire, the shipped routes.

Each scenario of prometheus/tests/outages.test.yml is evaluated by promtool with the project's
rules (derived_alerts.py); exactly the alerts it reports are posted to a real Alertmanager
running alertmanager/alertmanager.yml (am_harness.py). What is checked is what on-call would
receive: which alerts are inhibited, which notifications go out, to which receiver.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from am_harness import Alertmanager, MailSink, WebhookSink, alertmanager
from derived_alerts import Alert, fired
from monitoring_files import RULE_TESTS

from helpers import wait_for

pytestmark = pytest.mark.integration

OUTAGES = RULE_TESTS / "outages.test.yml"
CRITICAL = "relay:8000/alertmanager?channels=email,rocketchat"


@pytest.fixture
def am(tmp_path: Path) -> Iterator[tuple[Alertmanager, WebhookSink, MailSink]]:
    with alertmanager(tmp_path) as running:
        yield running


def derived(scenario: str, at: str, work: Path) -> list[dict[str, str]]:
    alerts: list[Alert] = fired(OUTAGES, scenario, at, work)
    assert alerts, f"promtool reports no alert for {scenario!r} at {at}"
    return [a.labels for a in alerts]


def settle(am: Alertmanager, count: int, expected: dict[str, bool]) -> None:
    """Inhibition marks are set asynchronously: poll, then show what they were."""
    try:
        wait_for(lambda: am.inhibited(count) == expected, timeout=15, what="inhibitions")
    except AssertionError:
        assert am.inhibited(count) == expected


def test_a_dying_qnap_pages_once_per_kind_of_news(am, tmp_path: Path) -> None:
    manager, hooks, mail = am
    alerts = derived("qnap dies", "100s", tmp_path)
    names = sorted(a["alertname"] for a in alerts)
    # the rules hold the QNAP's per-target alerts back: only HostDown speaks for its agents
    assert "TargetDown" not in names, names
    manager.post(alerts)
    settle(
        manager,
        len(alerts),
        {
            "HostDown/qnap": False,
            # seen through the QNAP's own cAdvisor and dockerd: the host explains them
            "MonitoringComponentDown/qnap:9280": True,
            "MonitoringComponentDown/qnap:9323": True,
            # probes the ASUSTOR runs: what users see, independent of the QNAP's agents
            "EndpointDown/https://lcbp3.np-dms.work/": False,
            "EndpointDown/https://chat.np-dms.work/api/info": False,
            "EndpointDown/qnap:443": False,
            # raised from samples stored before the QNAP died: still news
            "DatabaseConnectionsRefused/qnap:9104": False,
            "Watchdog/": False,
        },
    )
    # critical notifications: one per alert name and host, not one per endpoint
    wait_for(lambda: len(hooks.to(CRITICAL)) >= 3, timeout=15, what="critical notifications")
    time.sleep(3)  # group_wait is 1 s: anything else would have been sent by now
    critical = sorted(tuple(sorted(set(n.alertnames))) for n in hooks.to(CRITICAL))
    assert critical == [("DatabaseConnectionsRefused",), ("EndpointDown",), ("HostDown",)]
    [endpoints] = [n for n in hooks.to(CRITICAL) if n.alertnames[0] == "EndpointDown"]
    assert len(endpoints.body["alerts"]) == 3
    assert mail.subjects() == []  # nothing of the alert path failed


def test_an_outage_joining_a_group_already_paged_is_not_held(am, tmp_path: Path) -> None:
    """A second endpoint of a host failing after the first was paged joins the (alertname,
    host) group, which has flushed: Alertmanager sends it on the group's next group_interval
    tick, not after group_wait. So does the same endpoint failing again while Prometheus
    still re-sends its resolved alert (every resend delay, for 15 min), which keeps the group.
    With the critical route's group_interval at 30 s that page waited up to 30 s (the soak's
    p95 of 30 s); it must not wait longer than a first page."""
    manager, hooks, _mail = am
    alerts = derived("qnap dies", "100s", tmp_path)
    endpoints = [a for a in alerts if a["alertname"] == "EndpointDown"]
    assert len({a["host"] for a in endpoints}) == 1 and len(endpoints) >= 2, endpoints
    first, second = endpoints[0], endpoints[1]
    manager.post([first])
    wait_for(lambda: hooks.to(CRITICAL), timeout=15, what="the first page")
    time.sleep(2)  # the group has flushed; its next tick would be 30 s later with 30 s
    posted = time.time()
    manager.post([first, second])  # Prometheus re-sends what still fires beside the new one
    wait_for(lambda: len(hooks.to(CRITICAL)) >= 2, timeout=40, what="the second page")
    page = hooks.to(CRITICAL)[1]
    assert second["instance"] in {a["labels"]["instance"] for a in page.body["alerts"]}
    # a first page waits group_wait (1 s); 10 s leaves room for a loaded machine, and is far
    # below the 28 s a 30 s group_interval gives here
    assert page.at - posted < 10, f"the second page took {page.at - posted:.1f} s"


def test_a_dead_prober_silences_the_probes_it_ran_only(am, tmp_path: Path) -> None:
    manager, hooks, _mail = am
    alerts = derived("qnap prober dies", "20s", tmp_path)
    manager.post(alerts)
    settle(
        manager,
        len(alerts),
        {
            "TargetDown/qnap:9116": False,  # the prober itself: critical, names the cause
            "TargetDown/mariadb:3306": True,  # its probes could not run: no finding
            "TargetDown/cache:6379": True,
            "TargetDown/http://backend:3000/health": True,
            "EndpointDown/https://lcbp3.np-dms.work/": False,  # the other prober's: still news
            "Watchdog/": False,
        },
    )


def test_a_dead_relay_is_emailed_by_alertmanager_itself(am, tmp_path: Path) -> None:
    manager, hooks, mail = am
    alerts = derived("relay dies", "100s", tmp_path)
    manager.post(alerts)
    wait_for(lambda: len(mail.subjects()) >= 2, timeout=20, what="alert-path emails")
    subjects = " | ".join(mail.subjects())
    assert "TargetDown" in subjects and "AlertmanagerNotificationsFailing" in subjects, subjects
    with mail.lock:
        assert all(rcpt == ["ops@np-dms.work"] for _, rcpt, _ in mail.messages)
    # and to the relay's Rocket.Chat too, in case the relay still posts
    rocketchat = hooks.to("relay:8000/alertmanager?channels=rocketchat")
    assert {name for n in rocketchat for name in n.alertnames} >= {"TargetDown"}
    # never through the relay's email route, which is what is failing
    assert not any("TargetDown" in n.alertnames for n in hooks.to(CRITICAL))


def test_the_heartbeat_reaches_the_relay_and_the_watcher_on_the_other_box(
    am, tmp_path: Path
) -> None:
    manager, hooks, _mail = am
    alerts = [a for a in derived("relay dies", "12s", tmp_path) if a["alertname"] == "Watchdog"]
    assert alerts == [{"alertname": "Watchdog", "severity": "none"}]
    manager.post(alerts)
    wait_for(
        lambda: hooks.to("relay:8000/watchdog") and hooks.to("qnap:9188/watchdog"),
        timeout=15,
        what="heartbeat on both boxes",
    )
