"""The dead man's switch: no heartbeat within the window -> "monitoring pipeline down"."""

from __future__ import annotations

import pytest
from support.relay import RelayProcess, base_config, webhook

from helpers import wait_for

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
