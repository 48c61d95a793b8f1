"""JSON logs: one object per line, ids from extra, secrets never written."""

from __future__ import annotations

import io
import json
import logging

from napops.core import logs


def capture(secrets: list[str]) -> io.StringIO:
    stream = io.StringIO()
    logs.setup("demo", "DEBUG", secrets, stream=stream)
    return stream


def test_json_line_with_service_event_and_ids() -> None:
    stream = capture([])
    logging.getLogger("napops.test").info(
        "deployed %s", "backend", extra={"event": "deploy.done", "deploy_id": "d-1"}
    )
    doc = json.loads(stream.getvalue().strip())
    assert doc["service"] == "demo"
    assert doc["level"] == "INFO"
    assert doc["event"] == "deploy.done"
    assert doc["deploy_id"] == "d-1"
    assert doc["message"] == "deployed backend"
    assert doc["ts"].endswith("+00:00")


def test_secrets_are_scrubbed_from_messages_and_exceptions() -> None:
    secret = "hunter2-ไทย-token"
    stream = capture([secret])
    log = logging.getLogger("napops.test")
    log.warning("login with %s failed", secret)
    try:
        raise ValueError(f"bad token {secret}")
    except ValueError:
        log.exception("oops", extra={"token": secret})
    out = stream.getvalue()
    assert secret not in out
    assert json.dumps(secret)[1:-1] not in out
    assert out.count("***") >= 3
    assert all(json.loads(line) for line in out.splitlines())


def test_timestamp_is_in_the_process_zone_with_its_offset(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import time
    from datetime import datetime

    monkeypatch.setenv("TZ", "Asia/Bangkok")
    time.tzset()
    try:
        stream = capture([])
        before = time.time()
        logging.getLogger("napops.test").info("tick")
        doc = json.loads(stream.getvalue().strip())
        assert doc["ts"].endswith("+07:00")
        assert abs(datetime.fromisoformat(doc["ts"]).timestamp() - before) < 60
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
