"""The HTTP routes in process (Flask test client), with channels that record."""

from __future__ import annotations

import json

import pytest

from helpers import FIXTURES
from napops.core import config as configmod
from napops.core import sidecar
from napops.relay import main as relay_main
from napops.relay.schema import SECTION

RAW = (FIXTURES / "alertmanager" / "firing-group.json").read_bytes()
TOKEN = "unit-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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
    assert (
        ctx.registry.get_sample_value("napops_relay_watchdog_last_heartbeat_timestamp_seconds") > 0
    )
    resolved = json.loads(RAW)
    for a in resolved["alerts"]:
        a["status"] = "resolved"
    assert client.post("/watchdog", json=resolved, headers=AUTH).get_json() == {"status": "ignored"}


def test_readyz_checks_outbox_and_channels(ctx):
    resp = ctx.app.test_client().get("/readyz")
    checks = resp.get_json()["checks"]
    assert resp.status_code == 503  # configured, but the webhook's port 9 answers nothing
    assert {k: checks[k] for k in ("state_dir", "outbox", "channels")} == dict.fromkeys(
        ("state_dir", "outbox", "channels"), "ok"
    )
    assert "rocketchat configured but unreachable" in checks["channels_reachable"]


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
    c = sidecar.build("relay", SECTION, config, relay_main.setup)
    relay = next(h.__self__ for h in c.on_start if hasattr(h, "__self__"))  # Relay.start
    relay.notify("monitoring pipeline down", "text", "critical", "firing")
    for hook in c.on_shutdown:
        hook()
    verdict = audit.verify(tmp_path / "audit.jsonl", "k" * 32)
    assert verdict.ok and verdict.records == 1
