"""The dead man's switch: no heartbeat within the window -> "monitoring pipeline down"."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import yaml
from support.relay import TOKEN, RelayProcess, base_config, webhook

from helpers import ROOT, free_port, require_tool, serving, wait_for
from napops.relay.schema import SECTION

WINDOW = SECTION["properties"]["watchdog"]["properties"]["window_seconds"]["default"]

pytestmark = pytest.mark.integration


def test_missing_heartbeat_is_announced_once_and_recovery_too(tmp_path, smtp, chat, relays):
    watchdog = {"enabled": True, "window_seconds": 1.5, "check_seconds": 0.2}
    cfg = base_config(tmp_path / "state", smtp, chat, watchdog=watchdog)
    relay = RelayProcess(tmp_path, cfg).start()
    relays.append(relay)
    beat = webhook("Watchdog", severity="none")
    assert relay.post(beat, path="/watchdog").json() == {"status": "heartbeat"}
    assert relay.metric("napops_relay_watchdog_last_heartbeat_timestamp_seconds") > 0
    # heartbeats stop: both channels are told
    wait_for(lambda: "monitoring pipeline down" in smtp.subjects(), timeout=15)
    wait_for(lambda: "*monitoring pipeline down*" in chat.texts(), timeout=5)
    assert relay.metric("napops_relay_watchdog_pipeline_down") == 1
    # a restart neither forgets the outage nor announces it twice
    relay.kill()
    relay.start()
    assert relay.metric("napops_relay_watchdog_pipeline_down") == 1
    assert relay.post(beat, path="/watchdog").status_code == 200
    wait_for(lambda: "monitoring pipeline recovered" in smtp.subjects(), timeout=15)
    wait_for(lambda: "*monitoring pipeline recovered*" in chat.texts(), timeout=5)
    assert smtp.subjects().count("monitoring pipeline down") == 1
    assert relay.metric("napops_relay_watchdog_pipeline_down") == 0
    # the Watchdog never becomes an ordinary alert message
    assert not any("Watchdog" in s for s in smtp.subjects())


@pytest.mark.integration
def test_shipped_timing_no_false_alarm_and_down_within_a_minute(tmp_path, smtp, chat, relays):
    """The shipped Alertmanager configuration (Watchdog route timing) on a real Alertmanager
    against the relay with its default window: heartbeats keep it quiet for longer than the
    window, and "monitoring pipeline down" is delivered within 60 s of the last heartbeat
    once Alertmanager is gone (docs/alerting.md has the arithmetic)."""
    binary = require_tool("prometheus-alertmanager")
    cfg = base_config(tmp_path / "state", smtp, chat)
    del cfg["relay"]["watchdog"]  # the schema defaults, as shipped
    relay = RelayProcess(tmp_path, cfg).start()
    relays.append(relay)
    started = time.monotonic()
    am_config = yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text())
    token_file = tmp_path / "relay_token"
    token_file.write_text(TOKEN + "\n")
    for receiver in am_config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = hook["url"].replace("http://relay:8000", relay.url)
            hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    (tmp_path / "am.yml").write_text(yaml.safe_dump(am_config))
    port = free_port()
    argv = [
        binary,
        f"--config.file={tmp_path / 'am.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with serving(argv, f"http://127.0.0.1:{port}/-/ready", "alertmanager", stop_timeout=10):
        # what Prometheus sends for the always-firing rule (prometheus/rules/monitoring.yml)
        body = [{"labels": {"alertname": "Watchdog", "severity": "none"}}]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v2/alerts",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()
        wait_for(lambda: relay.metric("napops_relay_received_total", endpoint="watchdog"))
        # quiet for longer than the window (which counts from the relay's start)
        while time.monotonic() - started < WINDOW + 10:
            assert relay.metric("napops_relay_watchdog_pipeline_down") == 0
            time.sleep(1)
        beats = relay.metric("napops_relay_received_total", endpoint="watchdog")
        assert beats >= (WINDOW + 10) / 20, f"only {beats} heartbeats"
    # Alertmanager is gone: no more heartbeats
    last = relay.metric("napops_relay_watchdog_last_heartbeat_timestamp_seconds")
    wait_for(
        lambda: "*monitoring pipeline down*" in chat.texts(),
        timeout=70,
        what="'monitoring pipeline down' on Rocket.Chat",
    )
    told_after = time.time() - last
    assert told_after <= 60, f"told {told_after:.0f}s after the last heartbeat"
    wait_for(lambda: "monitoring pipeline down" in smtp.subjects(), timeout=10)
