"""The heartbeat watcher on the QNAP (compose/stacks/watch.yml): the relay with its shipped
configuration (compose/config/napops/relay-watch.yml, channels pointed at the test's SMTP
server and Rocket.Chat stand-in) receives the heartbeats the shipped Alertmanager configuration
posts to `qnap:9188`, and when Alertmanager dies, "monitoring pipeline down" is emailed
within 60 s of the last heartbeat, without the ASUSTOR's relay (its webhook goes nowhere).
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.alerting import AM_DIR, rewrite_alertmanager
from support.monitoring import alertmanager
from support.relay import TOKEN, RelayProcess, RocketChatReceiver, SmtpServer

from helpers import ROOT, wait_for

pytestmark = pytest.mark.integration

WATCH_CONFIG = ROOT / "compose" / "config" / "napops" / "relay-watch.yml"
WATCHER_ADDRESS = "qnap:9188"  # where the QNAP publishes it (compose/env/prod/watch.yml)


def watcher_config(directory: Path, smtp: SmtpServer, chat: RocketChatReceiver) -> dict[str, Any]:
    """The shipped watcher configuration; only its files and peers are the test's."""
    cfg: dict[str, Any] = yaml.safe_load(WATCH_CONFIG.read_text("utf-8"))
    cfg.pop("audit", None)  # the audit trail is not what this test is about
    relay = cfg["relay"]
    relay["state_dir"] = str(directory / "watch-state")
    relay.pop("token_file")
    relay["token"] = TOKEN
    email = {k: v for k, v in relay["channels"]["email"].items() if k != "password_file"}
    relay["channels"] = {"email": {**email, **smtp.config(), "from": email["from"]}}
    relay["channels"]["rocketchat"] = chat.config()
    return cfg


def test_alertmanager_dies_and_the_qnap_watcher_emails_monitoring_down(
    tmp_path: Path, smtp: SmtpServer, chat: RocketChatReceiver, relays: list[RelayProcess]
) -> None:
    shipped = yaml.safe_load(WATCH_CONFIG.read_text("utf-8"))["relay"]["watchdog"]
    assert shipped["enabled"] is True
    watcher = RelayProcess(tmp_path, watcher_config(tmp_path, smtp, chat)).start()
    relays.append(watcher)
    token_file = tmp_path / "relay_token"
    token_file.write_text(TOKEN + "\n")
    am_config = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text("utf-8"))
    hooks = [h["url"] for r in am_config["receivers"] for h in r.get("webhook_configs", [])]
    assert f"http://{WATCHER_ADDRESS}/watchdog" in hooks
    # the ASUSTOR's relay is not there: its webhooks go to a closed loopback port
    rewrite_alertmanager(
        am_config, "http://127.0.0.1:9", token_file, by_address={WATCHER_ADDRESS: watcher.url}
    )
    (tmp_path / "am.yml").write_text(yaml.safe_dump(am_config))
    am = alertmanager(tmp_path / "am.yml", tmp_path)
    am.start()
    try:
        am.wait_ready_http()
        # what Prometheus sends for the always-firing rule (prometheus/rules/monitoring.yml)
        body = [{"labels": {"alertname": "Watchdog", "severity": "none"}}]
        request = urllib.request.Request(
            f"http://127.0.0.1:{am.port}/api/v2/alerts",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()
        wait_for(
            lambda: (watcher.metric("napops_relay_received_total", endpoint="watchdog") or 0) >= 2,
            timeout=40,
            what="two heartbeats at the watcher",
        )
        assert watcher.metric("napops_relay_watchdog_pipeline_down") == 0
    finally:
        am.kill(signal.SIGKILL)  # the ASUSTOR loses power
    last = watcher.metric("napops_relay_watchdog_last_heartbeat_timestamp_seconds")
    assert last
    wait_for(
        lambda: "monitoring pipeline down" in smtp.subjects(),
        timeout=shipped["window_seconds"] + 30,
        what="'monitoring pipeline down' emailed by the watcher",
    )
    told_after = time.time() - last
    print(f"the watcher emailed 'monitoring pipeline down' {told_after:.1f}s after the last beat")
    assert told_after <= 60, f"told {told_after:.0f}s after the last heartbeat"
    mail = smtp.messages[smtp.subjects().index("monitoring pipeline down")]["message"]
    assert "napops watch on the QNAP" in str(mail["From"])
    wait_for(lambda: "*monitoring pipeline down*" in chat.texts(), timeout=10)
    assert watcher.metric("napops_relay_watchdog_pipeline_down") == 1
