"""The HTTP routes in process (Flask test client), with channels that record."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from helpers import FIXTURES
from napops.core import config as configmod
from napops.core import sidecar
from napops.relay import channels
from napops.relay import main as relay_main
from napops.relay.schema import SECTION
from napops.relay.service import Relay

RAW = (FIXTURES / "alertmanager" / "firing-group.json").read_bytes()
TOKEN = "unit-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@pytest.fixture
def ctx(tmp_path):
    env = {
        "NAPOPS__RELAY__TOKEN": TOKEN,
        "NAPOPS__RELAY__STATE_DIR": str(tmp_path / "state"),
        "NAPOPS__RELAY__CHANNELS__ROCKETCHAT__WEBHOOK_URL": "http://127.0.0.1:9/hooks/a/b",
        "NAPOPS__MAX_BODY_BYTES": "8192",
    }
    config = configmod.load(configmod.common_schema("relay", SECTION), None, environ=env)
    c = sidecar.build("relay", SECTION, config, relay_main.setup)
    yield c  # not started: no delivery threads, this tests acceptance only
    for hook in c.on_shutdown:
        hook()


def test_accepts_stores_and_counts(ctx):
    client = ctx.app.test_client()
    r = client.post("/alertmanager", data=RAW, headers=AUTH)
    assert r.status_code == 200 and r.get_json()["status"] == "stored"
    r2 = client.post("/alertmanager", data=RAW, headers=AUTH)
    assert r2.get_json()["status"] == "duplicate"
    reg = ctx.registry
    assert reg.get_sample_value("napops_relay_received_total", {"endpoint": "alertmanager"}) == 2
    assert reg.get_sample_value("napops_relay_duplicates_total") == 1
    assert reg.get_sample_value("napops_relay_queue_depth", {"channel": "rocketchat"}) == 1


def test_refusals(ctx):
    client = ctx.app.test_client()
    assert client.post("/alertmanager", data=RAW).status_code == 401
    assert (
        client.post("/alertmanager", data=RAW, headers={"Authorization": "Basic x"}).status_code
        == 401
    )
    assert ctx.registry.get_sample_value("napops_relay_rejected_total", {"reason": "auth"}) == 2
    bad = client.post("/alertmanager", data=b"\xc3\x28", headers=AUTH)
    assert bad.status_code == 400 and "UTF-8" in bad.get_json()["reason"]
    big = json.loads(RAW)
    big["alerts"][0]["annotations"]["description"] = "y" * 9000
    r = client.post("/alertmanager", data=json.dumps(big), headers=AUTH)
    assert r.status_code == 413 and r.get_json()["error"] == 413
    too_large = {"reason": "too_large"}
    assert ctx.registry.get_sample_value("napops_relay_rejected_total", too_large) == 1
    # asked for email only, which is not configured: 503 so Alertmanager keeps it
    r = client.post("/alertmanager?channels=email", data=RAW, headers=AUTH)
    assert r.status_code == 503 and "email" in r.get_json()["reason"]
    assert ctx.registry.get_sample_value("napops_relay_queue_depth", {"channel": "rocketchat"}) == 0


def test_watchdog_heartbeat(ctx):
    client = ctx.app.test_client()
    r = client.post("/watchdog", data=RAW, headers=AUTH)
    assert r.get_json() == {"status": "heartbeat"}
    assert ctx.registry.get_sample_value("napops_relay_received_total", {"endpoint": "watchdog"})
    assert (
        ctx.registry.get_sample_value("napops_relay_watchdog_last_heartbeat_timestamp_seconds") > 0
    )
    resolved = json.loads(RAW)
    for a in resolved["alerts"]:
        a["status"] = "resolved"
    assert client.post("/watchdog", json=resolved, headers=AUTH).get_json() == {"status": "ignored"}


@pytest.mark.parametrize("path", ["/alertmanager", "/watchdog"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", RAW),
        ("application/x-www-form-urlencoded", b"payload=" + RAW),
        (None, RAW),
    ],
)
def test_a_body_that_is_not_json_is_refused_415_and_not_stored(ctx, path, content_type, body):
    headers = {"Authorization": AUTH["Authorization"]}
    if content_type:
        headers["Content-Type"] = content_type
    r = ctx.app.test_client().post(path, data=body, headers=headers)
    assert r.status_code == 415
    assert r.get_json()["reason"].startswith("expected Content-Type application/json, got ")
    assert (content_type or "none") in r.get_json()["reason"]
    reg = ctx.registry
    assert reg.get_sample_value("napops_relay_rejected_total", {"reason": "content_type"}) == 1
    assert reg.get_sample_value("napops_relay_queue_depth", {"channel": "rocketchat"}) == 0
    assert reg.get_sample_value("napops_relay_watchdog_last_heartbeat_timestamp_seconds") == 0


def test_json_with_a_charset_is_json(ctx):
    headers = {**AUTH, "Content-Type": "application/json; charset=utf-8"}
    assert ctx.app.test_client().post("/alertmanager", data=RAW, headers=headers).status_code == 200


def test_readyz_checks_outbox_and_channels(ctx):
    ctx.ready_checks.pop("channels_reachable")  # probes the network: integration tests cover it
    body = ctx.app.test_client().get("/readyz").get_json()
    assert body["checks"] == {"state_dir": "ok", "outbox": "ok", "channels": "ok"}


def test_relay_notices_are_written_to_the_audit_trail(tmp_path):
    from napops.core import audit

    env = {
        "NAPOPS__RELAY__TOKEN": TOKEN,
        "NAPOPS__RELAY__STATE_DIR": str(tmp_path / "state"),
        "NAPOPS__RELAY__CHANNELS__ROCKETCHAT__WEBHOOK_URL": "http://127.0.0.1:9/hooks/a/b",
        "NAPOPS__AUDIT__PATH": str(tmp_path / "audit.jsonl"),
        "NAPOPS__AUDIT__KEY": "k" * 32,
    }
    config = configmod.load(configmod.common_schema("relay", SECTION), None, environ=env)
    section = config["relay"]
    trail = audit.AuditTrail(config["audit"]["path"], config["audit"]["key"], actor="relay")
    outbox = relay_main.open_outbox(section)
    relay = Relay(section, outbox, channels.build(section), CollectorRegistry(), audit=trail)
    relay.notify("monitoring pipeline down", "text", "critical", "firing")
    outbox.close()
    verdict = audit.verify(tmp_path / "audit.jsonl", "k" * 32)
    assert verdict.ok and verdict.records == 1


def test_every_refusal_reason_is_exported_from_start_up(ctx):
    from napops.relay.metrics import REFUSALS

    for reason in REFUSALS:
        assert ctx.registry.get_sample_value("napops_relay_rejected_total", {"reason": reason}) == 0
