"""Bad input: each refusal is a 4xx with a JSON reason, and nothing is stored or sent."""

from __future__ import annotations

import json
import sqlite3

import pytest
from support.relay import TOKEN, RelayProcess, base_config, fixture_payload

pytestmark = pytest.mark.integration

LIMIT = 4096


@pytest.fixture
def relay(tmp_path, chat, relays):
    cfg = base_config(tmp_path / "state", chat=chat)
    cfg["max_body_bytes"] = LIMIT
    proc = RelayProcess(tmp_path, cfg).start()
    relays.append(proc)
    return proc


def stored_rows(relay: RelayProcess) -> int:
    db = sqlite3.connect(relay.directory / "state" / "outbox.sqlite3")
    try:
        return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    finally:
        db.close()


wrong_schema = fixture_payload()
wrong_schema["version"] = "3"
no_alerts = {**fixture_payload(), "alerts": []}
bad_status = fixture_payload()
bad_status["alerts"][0]["status"] = "burning"
big = fixture_payload()
big["alerts"][0]["annotations"]["description"] = "x" * (LIMIT * 2)

CASES = {
    "malformed JSON": ({"raw": b'{"version": "4", "alerts": ['}, 400, "not valid JSON"),
    "not an object": ({"raw": b"[1, 2]"}, 400, "expected object"),
    "wrong version": ({"payload": wrong_schema}, 400, "At 'version'"),
    "no alerts": ({"payload": no_alerts}, 400, "At 'alerts'"),
    "bad alert status": ({"payload": bad_status}, 400, "At 'alerts[0].status'"),
    "invalid UTF-8": ({"raw": b'{"version": "4", "x": "\xff\xfe"}'}, 400, "not valid UTF-8"),
    "missing token": ({"payload": fixture_payload(), "token": None}, 401, "bearer token"),
    "wrong token": ({"payload": fixture_payload(), "token": TOKEN + "x"}, 401, "bearer token"),
    "oversized body": ({"payload": big}, 413, "limit"),
    "unknown channel hint": ({"payload": fixture_payload(), "channels": "pager"}, 400, "pager"),
}


PARAMS = [
    (path, case)
    for path in ("/alertmanager", "/watchdog")
    for case in CASES
    if not (path == "/watchdog" and case == "unknown channel hint")  # it takes no hint
]


@pytest.mark.parametrize(("path", "case"), PARAMS)
def test_refused_with_json_reason_and_nothing_stored(relay, chat, path, case):
    kwargs, status, reason = CASES[case]
    resp = relay.post(
        kwargs.get("payload"),
        path=path,
        token=kwargs.get("token", TOKEN),
        channels=kwargs.get("channels"),
        raw=kwargs.get("raw"),
    )
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == status and reason in body["reason"]
    assert stored_rows(relay) == 0
    label = {400: "payload", 401: "auth", 413: "too_large"}[status]
    assert relay.metric("napops_relay_rejected_total", reason=label) == 1  # counted, once
    assert relay.metric("napops_relay_received_total", endpoint="alertmanager") == 0
    assert relay.metric("napops_relay_watchdog_last_heartbeat_timestamp_seconds") == 0
    assert chat.posts == []


def test_wrong_token_is_not_echoed(relay):
    resp = relay.post(fixture_payload(), token="attacker-guess-123456")
    assert resp.status_code == 401 and "attacker-guess" not in resp.text
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(resp.text)["reason"] == "missing or wrong bearer token"
