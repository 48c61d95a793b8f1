"""The dead man's switch logic with an explicit clock."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from napops.relay.metrics import RelayMetrics
from napops.relay.outbox import Outbox
from napops.relay.watchdog import Watchdog


def make(tmp_path, now):
    sent = []
    box = Outbox(tmp_path / "o.sqlite3")
    registry = CollectorRegistry()
    metrics = RelayMetrics(registry, [])
    wd = Watchdog(lambda *a: sent.append(a), box, metrics, window=60, now=now, timezone="UTC")
    return wd, sent, registry, box


def test_down_once_then_recovered(tmp_path):
    wd, sent, registry, box = make(tmp_path, now=1000)
    assert not wd.check(1059)  # window counts from start-up
    assert wd.check(1061)
    assert wd.check(1100)
    assert [s[0] for s in sent] == ["monitoring pipeline down"]
    assert sent[0][2:] == ("critical", "firing")
    assert registry.get_sample_value("napops_relay_watchdog_pipeline_down") == 1
    wd.heartbeat(1200)
    assert [s[0] for s in sent][-1] == "monitoring pipeline recovered"
    assert (
        registry.get_sample_value("napops_relay_watchdog_last_heartbeat_timestamp_seconds") == 1200
    )
    assert not wd.check(1250)
    wd.heartbeat(1255)  # not down: no notice
    assert len(sent) == 2


def test_state_survives_restart(tmp_path):
    wd, sent, _, box = make(tmp_path, now=1000)
    wd.heartbeat(1010)
    wd.check(1100)
    box.close()
    again, sent2, registry, _ = make(tmp_path, now=2000)
    assert again.down and again.last == 1010
    assert again.check(3000) and sent2 == []  # not announced twice
    assert registry.get_sample_value("napops_relay_watchdog_pipeline_down") == 1
