"""A real napops sidecar log line carries the fields the Alloy JSON stage extracts."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

from alloy_text import parse

from helpers import ALLOY
from napops.core import logs


def _json_stage_fields() -> set[str]:
    root = parse(ALLOY.read_text(encoding="utf-8"))
    (process,) = root.children("loki.process")
    (match,) = process.children("stage.match")
    (stage,) = match.children("stage.json")
    return set(stage.strings("expressions"))


def _log_line(**extra: str) -> dict[str, object]:
    """One line as the deploy sidecar writes it (its formatter, a private logger)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter("deploy"))
    logger = logging.getLogger("napops.deploy.log_fields_test")
    logger.propagate = False  # leave the root logger (and pytest's capture) alone
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info("switched", extra=extra)
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().strip()
    assert "\n" not in line, "one JSON object per line"
    doc: dict[str, object] = json.loads(line)
    return doc


def test_a_sidecar_line_has_every_field_alloy_extracts() -> None:
    doc = _log_line(event="deploy.switch", deploy_id="d-42", run_id="r-7")
    assert _json_stage_fields() <= set(doc)
    assert doc["level"] == "INFO" and doc["service"] == "deploy" and doc["event"] == "deploy.switch"
    assert doc["deploy_id"] == "d-42"


def test_timestamp_is_rfc3339_with_zone() -> None:
    ts = str(_log_line(event="x")["ts"])
    parsed = datetime.fromisoformat(ts)
    assert parsed.tzinfo is not None, "Alloy's RFC3339Nano needs the offset"
    assert ts[10] == "T"


def test_level_and_event_are_always_present() -> None:
    """They become labels; a line without them would land in an unlabelled stream."""
    doc = _log_line()
    assert doc["level"] and doc["event"]
