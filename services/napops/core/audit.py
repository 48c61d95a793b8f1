"""The tamper-evident audit trail: append-only JSONL, hash-chained and HMAC-signed.

Each line is one record in canonical JSON::

    {"action":..., "actor":..., "data":{...}, "hmac":"<hex>", "prev":"<hex>", "seq":N, "ts":...}

``prev`` is the SHA-256 of the previous line's bytes (64 zeros for the first record), and
``hmac`` is HMAC-SHA256 under a secret key of the record without its ``hmac`` field. Editing,
deleting, reordering or forging a record therefore breaks the chain at a line that
:func:`verify` names. Appenders take an exclusive ``flock`` on the file, so any number of
processes can append at once without interleaving or forking the chain.

What the chain alone cannot show is the loss of the newest records (a tail cut at a line
boundary); compare the head that ``verify`` prints with one kept elsewhere to catch that.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import NapopsError

GENESIS = "0" * 64
_FIELDS = {"seq", "ts", "action", "actor", "data", "prev", "hmac"}


class AuditError(NapopsError):
    """The trail cannot be appended to (unreadable, or damaged at its end)."""


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(record: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in record.items() if k != "hmac"}
    return hmac.new(key, canonical(body), hashlib.sha256).hexdigest()


def _last_line(fh: Any) -> bytes | None:
    """The last complete line of the file, without its newline; None when the file is empty."""
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return None
    fh.seek(end - 1)
    if fh.read(1) != b"\n":
        raise AuditError("the trail's last line is incomplete; run 'napops trail verify'")
    pos, chunk, tail = end - 1, 4096, b""
    while pos > 0:
        start = max(0, pos - chunk)
        fh.seek(start)
        tail = fh.read(pos - start) + tail
        pos = start
        if b"\n" in tail:
            break
    return tail.rsplit(b"\n", 1)[-1]


class AuditTrail:
    """Appends signed, chained records to ``path``."""

    def __init__(self, path: str | os.PathLike[str], key: str | bytes, actor: str = "napops"):
        self.path = Path(path)
        self.key = key.encode() if isinstance(key, str) else key
        self.actor = actor

    def append(self, action: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record and fsync it; returns the record. Raises AuditError."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit trail {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                last = _last_line(fh)
                if last is None:
                    seq, prev = 1, GENESIS
                else:
                    try:
                        seq = int(json.loads(last)["seq"]) + 1
                    except (ValueError, KeyError, TypeError):
                        raise AuditError(
                            "the trail's last record is unreadable; run 'napops trail verify'"
                        ) from None
                    prev = hashlib.sha256(last).hexdigest()
                record: dict[str, Any] = {
                    "seq": seq,
                    "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "action": action,
                    "actor": self.actor,
                    "data": data or {},
                    "prev": prev,
                }
                record["hmac"] = sign(record, self.key)
                fh.write(canonical(record) + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return record


@dataclass
class Verdict:
    """Outcome of :func:`verify`. ``line`` and ``reason`` name the first bad record."""

    ok: bool
    records: int
    head: str = GENESIS
    line: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def verify(path: str | os.PathLike[str], key: str | bytes) -> Verdict:
    """Check every record of the trail at ``path``; stop at the first bad one."""
    key = key.encode() if isinstance(key, str) else key
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    complete, rest = lines[:-1], lines[-1]
    prev, good = GENESIS, 0
    seqs = _seqs(complete)
    for number, raw in enumerate(complete, start=1):
        problem = _check(raw, number, prev, key, seqs)
        if problem:
            return Verdict(False, good, prev, number, problem)
        prev, good = hashlib.sha256(raw).hexdigest(), good + 1
    if rest:
        return Verdict(
            False, good, prev, len(complete) + 1, "truncated: the last line is incomplete"
        )
    return Verdict(True, good, prev)


def _seqs(lines: list[bytes]) -> set[int]:
    out = set()
    for raw in lines:
        try:
            out.add(int(json.loads(raw)["seq"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            continue
    return out


def _check(raw: bytes, number: int, prev: str, key: bytes, seqs: set[int]) -> str | None:
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "not valid JSON (damaged or truncated)"
    if not isinstance(record, dict) or set(record) != _FIELDS:
        return "not an audit record (fields missing or added)"
    if not hmac.compare_digest(str(record["hmac"]), sign(record, key)):
        return "HMAC does not match: the record was edited or forged without the key"
    if record["seq"] != number:
        if number not in seqs:
            return f"sequence is {record['seq']}, expected {number}: a record before it is missing"
        return f"sequence is {record['seq']}, expected {number}: records are out of order"
    if record["prev"] != prev:
        return "hash chain broken: 'prev' is not the hash of the record before"
    return None
