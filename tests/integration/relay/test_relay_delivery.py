"""The relay delivering to a real SMTP server (STARTTLS/implicit TLS + AUTH) and Rocket.Chat."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.relay import (
    RelayProcess,
    RocketChatReceiver,
    SmtpServer,
    base_config,
    fixture_payload,
    webhook,
)

from helpers import wait_for

pytestmark = pytest.mark.integration


def start(
    tmp_path: Path,
    relays: list[RelayProcess],
    smtp: SmtpServer | None,
    chat: RocketChatReceiver | None,
    **relay: object,
) -> RelayProcess:
    cfg = base_config(tmp_path / "state", smtp, chat, **relay)
    proc = RelayProcess(tmp_path, cfg).start()
    relays.append(proc)
    return proc


def test_fixture_group_arrives_on_both_channels_with_thai_intact(tmp_path, smtp, chat, relays):
    relay = start(tmp_path, relays, smtp, chat)
    resp = relay.post(fixture_payload(), channels="email,rocketchat")
    assert resp.status_code == 200, resp.text
    wait_for(lambda: smtp.messages and chat.posts, what="email and chat message")

    mail = smtp.messages[0]
    assert mail["tls"] and mail["auth"]
    assert mail["from"] == "alerts@np-dms.test" and mail["to"] == ["ops@np-dms.test"]
    assert str(mail["message"]["Subject"]) == "[FIRING:2] BackendDown qnap backend"
    body = mail["message"].get_content()
    assert "ระบบ backend ไม่ตอบสนอง" in body
    assert "Backend is down on qnap" in body and "Backend TCP port closed" in body
    assert "Runbook: https://git.np-dms.work/ops/napops/src/branch/main/docs/runbooks/" in body
    assert "Prometheus: http://prometheus:9090/graph?g0.expr=" in body
    assert "instance=backend:3000" in body

    post = chat.posts[0]
    assert post["text"] == "*[FIRING:2] BackendDown qnap backend*"
    assert len(post["attachments"]) == 2
    assert post["attachments"][0]["color"] == "#d00000"
    assert "ระบบ backend ไม่ตอบสนอง" in post["attachments"][0]["text"]
    assert {"short": True, "title": "host", "value": "qnap"} in post["attachments"][0]["fields"]
    wait_for(lambda: relay.metric("napops_relay_delivered_total", channel="email") == 1)
    assert relay.metric("napops_relay_delivered_total", channel="rocketchat") == 1
    assert relay.metric("napops_relay_queue_depth", channel="email") == 0
    assert relay.metric("napops_relay_received_total", endpoint="alertmanager") == 1
    assert (
        relay.metric(
            "napops_relay_delivery_latency_seconds_count", channel="email", since="starts_at"
        )
        == 1
    )


def test_resolved_notice_is_green_and_says_resolved(tmp_path, smtp, chat, relays):
    relay = start(tmp_path, relays, smtp, chat)
    assert relay.post(webhook("TargetDown", "resolved", host="qnap")).status_code == 200
    wait_for(lambda: smtp.messages and chat.posts, what="resolved notices")
    assert smtp.subjects() == ["[RESOLVED] TargetDown qnap"]
    assert "Resolved: 2026-11-26 17:05:00 +07" in smtp.bodies()[0]
    assert chat.posts[0]["attachments"][0]["color"] == "#2eb886"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls(tmp_path, chat, relays):
    smtp = SmtpServer(tmp_path, implicit_tls=True).start()
    try:
        relay = start(tmp_path, relays, smtp, None)
        assert relay.post(webhook("DiskFull", host="asustor")).status_code == 200
        wait_for(lambda: smtp.messages, what="email over implicit TLS")
        assert smtp.messages[0]["tls"] and smtp.subjects() == ["[FIRING:1] DiskFull asustor"]
    finally:
        smtp.stop()


def test_channels_hint_and_routes_pick_channels_and_recipients(tmp_path, smtp, chat, relays):
    routes = [
        {"match": {"severity": "warning"}, "channels": ["rocketchat"]},
        {"match": {"team": "db"}, "email_to": ["dba@np-dms.test"], "email_from": "db@np-dms.test"},
    ]
    relay = start(tmp_path, relays, smtp, chat, routes=routes)
    # the hint wins over a route
    assert relay.post(webhook("A", severity="warning"), channels="email").status_code == 200
    # no hint: the route decides (warning -> rocketchat only)
    assert relay.post(webhook("B", severity="warning")).status_code == 200
    # a route chooses recipients; no hint and no channels in it: default channels
    assert relay.post(webhook("C", team="db")).status_code == 200
    wait_for(lambda: len(smtp.messages) == 2 and len(chat.posts) == 2, what="routed messages")
    by_subject = {str(m["message"]["Subject"]): m for m in smtp.messages}
    assert set(by_subject) == {"[FIRING:1] A", "[FIRING:1] C"}
    assert by_subject["[FIRING:1] C"]["to"] == ["dba@np-dms.test"]
    assert by_subject["[FIRING:1] C"]["from"] == "db@np-dms.test"
    assert sorted(chat.texts()) == ["*[FIRING:1] B*", "*[FIRING:1] C*"]
    # one kept SMTP session (STARTTLS + AUTH once), not one per message
    assert len({m["session"] for m in smtp.messages}) == 1


def test_same_group_twice_is_one_message(tmp_path, smtp, chat, relays):
    relay = start(tmp_path, relays, smtp, chat)
    first = relay.post(fixture_payload())
    second = relay.post(fixture_payload())
    assert first.json()["status"] == "stored" and second.json()["status"] == "duplicate"
    wait_for(lambda: smtp.messages and chat.posts)
    wait_for(lambda: relay.metric("napops_relay_duplicates_total") == 1)
    # a changed group (one alert resolved) is news and is delivered
    changed = fixture_payload()
    changed["alerts"][1]["status"] = "resolved"
    assert relay.post(changed).json()["status"] == "stored"
    wait_for(lambda: len(smtp.messages) == 2 and len(chat.posts) == 2)
    assert smtp.subjects() == [
        "[FIRING:2] BackendDown qnap backend",
        "[FIRING:1] BackendDown qnap backend",
    ]
