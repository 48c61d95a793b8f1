"""End to end: a scraped target stops -> email + Rocket.Chat name it; it returns -> resolved.

Real Prometheus and Alertmanager (Debian packages) run as processes with the project's
rules and routes, sending to the relay process, which sends to aiosmtpd (STARTTLS + AUTH)
and a Rocket.Chat webhook receiver. No Docker needed.
"""

from __future__ import annotations

import pytest
from support.alerting import Stack, Target
from support.relay import TOKEN, RelayProcess, RocketChatReceiver, SmtpServer, base_config

from helpers import wait_for

pytestmark = pytest.mark.integration


def test_target_down_and_back(tmp_path):
    import time

    t0 = time.monotonic()

    def mark(what: str) -> None:
        print(f"{time.monotonic() - t0:6.1f}s {what}")

    smtp, chat, target = SmtpServer(tmp_path).start(), RocketChatReceiver().start(), Target()
    target.start()
    watchdog = {"enabled": True, "window_seconds": 120, "check_seconds": 1}
    cfg = base_config(tmp_path / "state", smtp, chat, watchdog=watchdog)
    relay = RelayProcess(tmp_path, cfg).start()
    stack = Stack(tmp_path, relay.url, TOKEN, target)
    try:
        stack.start()
        wait_for(lambda: stack.target_up() == 1, timeout=60, what="target scraped up")
        mark("target up")
        target.stop()
        mark("target stopped")
        instance = f"127.0.0.1:{target.port}"
        wait_for(
            lambda: any("TargetDown" in s for s in smtp.subjects()),
            timeout=120,
            what="TargetDown email",
        )
        wait_for(
            lambda: any("TargetDown" in t for t in chat.texts()),
            timeout=10,
            what="TargetDown on Rocket.Chat",
        )
        mail = next(
            b for s, b in zip(smtp.subjects(), smtp.bodies(), strict=True) if "TargetDown" in s
        )
        assert instance in mail
        post = next(p for p in chat.posts if "TargetDown" in p["text"])
        assert "FIRING" in post["text"] and instance in post["attachments"][0]["text"]
        mark("down notified")
        target.start()
        wait_for(
            lambda: any(s.startswith("[RESOLVED] TargetDown") for s in smtp.subjects()),
            timeout=180,
            what="resolved email",
        )
        wait_for(lambda: any("[RESOLVED] TargetDown" in t for t in chat.texts()), timeout=10)
        mark("resolved notified")
        # the Watchdog heartbeat reaches /watchdog through the project's routes
        wait_for(
            lambda: relay.metric("napops_relay_watchdog_last_heartbeat_timestamp_seconds"),
            timeout=90,
            what="Watchdog heartbeat",
        )
        # nothing about the Watchdog became an ordinary message, and nothing was refused
        assert not any("Watchdog" in s for s in smtp.subjects())
        assert relay.metric("napops_relay_rejected_total", reason="auth") == 0
        assert relay.metric("napops_relay_rejected_total", reason="payload") == 0
    finally:
        stack.stop()
        relay.kill()
        target.stop()
        smtp.stop()
        chat.stop()
