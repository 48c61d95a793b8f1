"""The sinks' store: one JSONL file of received messages, appended under ``flock``.

Each line is ``{"id": n, "kind": "email"|"rocketchat", "received": <unix seconds>, ...}`` with
the fields of :func:`from_email` or :func:`from_chat`. Pure parsing apart from file I/O.
"""

from __future__ import annotations

import email
import email.policy
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

KINDS = ("email", "rocketchat")


def from_email(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> dict[str, Any]:
    """What an inbox shows of one SMTP message: envelope, subject, the text part, HTML or not."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    return {
        "kind": "email",
        "from": mail_from,
        "to": list(rcpt_tos),
        "subject": str(msg.get("Subject", "")),
        "text": text_part.get_content() if text_part is not None else "",
        "html": html_part is not None,
    }


class ChatPayloadError(ValueError):
    """The body is not a Rocket.Chat incoming-webhook message."""


def from_chat(body: bytes, path: str) -> dict[str, Any]:
    """A Rocket.Chat incoming-webhook post: JSON with ``text`` and/or ``attachments``."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChatPayloadError(f"body is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ChatPayloadError("body must be a JSON object")
    text = data.get("text", "")
    attachments = data.get("attachments", [])
    if not isinstance(text, str) or not isinstance(attachments, list):
        raise ChatPayloadError("'text' must be a string and 'attachments' a list")
    if not text and not attachments:
        raise ChatPayloadError("neither 'text' nor 'attachments' given")
    titles = [a.get("title", "") for a in attachments if isinstance(a, dict)]
    return {
        "kind": "rocketchat",
        "integration": path.split("/")[2] if path.count("/") >= 3 else "",
        "text": text,
        "attachments": [t for t in titles if t],
        "payload": data,
    }


class Inbox:
    """Messages received by the sinks, in ``folder``/inbox.jsonl."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.path = Path(folder) / "inbox.jsonl"

    def add(self, message: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """Store ``message`` with the next id and its receipt time; returns the stored record."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                count = sum(1 for _ in fh)
                record = {"id": count + 1, "received": time.time() if now is None else now}
                record.update(message)
                fh.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return record

    def read(self, since: float = 0.0, kind: str | None = None) -> list[dict[str, Any]]:
        """Stored messages received at or after ``since``, of ``kind`` when given, oldest first."""
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line being written
            if record.get("received", 0) >= since and (kind is None or record["kind"] == kind):
                out.append(record)
        return out
