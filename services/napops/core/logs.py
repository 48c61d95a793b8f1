"""JSON log lines on stdout: ts, level, service, event, message and any ids passed in ``extra``.

``ts`` is RFC 3339 in the process's time zone (``TZ``; the Compose stacks set the estate's,
Asia/Bangkok, the zone the relay's messages use) with its offset always written, so a log line
and a message saying "failing since 09:58" read alike and neither is ambiguous.

Secret values registered with :func:`setup` are replaced by ``***`` wherever they appear,
so a secret that slips into a message or an exception is still never written.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line. ``extra={"event": ..., "run_id": ...}`` become fields."""

    def __init__(self, service: str, secrets: Iterable[str] = ()):
        super().__init__()
        self.service = service
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .astimezone()
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "event": getattr(record, "event", None) or message.split(" ", 1)[0],
            "message": message,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in doc:
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return self._scrub(json.dumps(doc, ensure_ascii=False, default=str))

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
            encoded = json.dumps(secret, ensure_ascii=False)[1:-1]
            if encoded != secret:
                text = text.replace(encoded, "***")
        return text


def setup(
    service: str, level: str = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Route every logger to one JSON handler on ``stream`` (stdout by default)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(service, secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # waitress logs each queue warning at WARNING; keep it but not its INFO chatter.
    logging.getLogger("waitress").setLevel(logging.WARNING)
