"""Parse and validate Alertmanager webhook bodies (payload version 4).

Pure functions: bytes in, a validated dict out, or :class:`PayloadError` naming the first
problem. Nothing here touches the outbox, so a rejected body is never stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from ..core.schema import Schema, validate
from .errors import PayloadError

_STR_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
_STATUS: Schema = {"type": "string", "enum": ["firing", "resolved"]}

ALERT: Schema = {
    "type": "object",
    "required": ["status", "labels", "annotations", "startsAt"],
    "properties": {
        "status": _STATUS,
        "labels": _STR_MAP,
        "annotations": _STR_MAP,
        "startsAt": {"type": "string", "minLength": 1},
        "endsAt": {"type": "string"},
        "generatorURL": {"type": "string"},
        "fingerprint": {"type": "string"},
    },
}

WEBHOOK: Schema = {
    "type": "object",
    "required": ["version", "status", "alerts", "groupKey"],
    "properties": {
        "version": {"type": "string", "enum": ["4"]},
        "status": _STATUS,
        "receiver": {"type": "string"},
        "groupKey": {"type": "string"},
        "alerts": {"type": "array", "items": ALERT, "minItems": 1},
        "groupLabels": _STR_MAP,
        "commonLabels": _STR_MAP,
        "commonAnnotations": _STR_MAP,
        "externalURL": {"type": "string"},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
    },
}

# The fraction of a second: Go writes up to 9 digits, fromisoformat reads 6.
_FRACTION = re.compile(r"(\.\d+)")

# Fields that make two deliveries of the same group "the same message".
_CONTENT_FIELDS = ("status", "labels", "annotations", "startsAt", "endsAt")


def parse(body: bytes) -> dict[str, Any]:
    """Decode, parse and validate ``body``. Raises PayloadError (invalid UTF-8, JSON, schema)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    problems = validate(data, WEBHOOK)
    if problems:
        raise PayloadError("not an Alertmanager v4 webhook: " + "; ".join(problems[:5]))
    for alert in data["alerts"]:
        parse_time(alert["startsAt"])  # raises PayloadError when unreadable
    data.setdefault("commonLabels", {})
    data.setdefault("groupLabels", {})
    data.setdefault("commonAnnotations", {})
    return dict(data)


def parse_time(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 time; None for Alertmanager's zero time. Raises PayloadError."""
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        # Python 3.11 fromisoformat reads 'Z' and up to microseconds; trim nanoseconds.
        text = _FRACTION.sub(lambda m: m.group(1)[:7], text)
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise PayloadError(f"unreadable time {text!r}") from None


def earliest_start(data: dict[str, Any]) -> float | None:
    """The earliest ``startsAt`` of the group's alerts (for latency from the alert's start)."""
    starts = [parse_time(a["startsAt"]) for a in data["alerts"]]
    known = [s for s in starts if s is not None]
    return min(known) if known else None


def content_hash(data: dict[str, Any]) -> str:
    """SHA-256 over what a reader sees: each alert's status, labels, annotations and times."""
    alerts = sorted(
        json.dumps({k: a.get(k) for k in _CONTENT_FIELDS}, sort_keys=True) for a in data["alerts"]
    )
    return hashlib.sha256("\n".join(alerts).encode()).hexdigest()


def dedup_key(data: dict[str, Any]) -> str:
    """Group key + status + content hash: equal keys mean Alertmanager sent the same thing."""
    raw = "\x00".join((data["groupKey"], data["status"], content_hash(data)))
    return hashlib.sha256(raw.encode()).hexdigest()
