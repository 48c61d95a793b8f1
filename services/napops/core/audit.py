"""The tamper-evident audit trail: append-only JSONL, hash-chained and HMAC-signed.

Each line is one record in canonical JSON::

    {"action":..., "actor":..., "data":{...}, "hmac":"<hex>", "prev":"<hex>", "seq":N, "ts":...}

``prev`` is the SHA-256 of the previous line's bytes (64 zeros for the first record), and
``hmac`` is HMAC-SHA256 under a secret key of the record without its ``hmac`` field. Editing,
deleting, reordering or forging a record therefore breaks the chain at a line that
:func:`verify` names. Appenders take an exclusive ``flock`` on the file, so any number of
processes can append at once without interleaving or forking the chain.

What the chain alone cannot show is the loss of the newest records (a tail cut at a line
boundary). Two independent copies make that visible without a head kept by hand: every append
logs the new record's hash (``event: audit_append``, so Loki holds the chain's heads), and
:class:`RecordCount` exports the number of records as ``napops_audit_records`` (the rule
``AuditTrailShrank`` fires when it drops). docs/audit.md explains the choices.

There is one trail per host: every sidecar of a host appends to the same file (the ``flock``
makes that safe), so one ``napops trail verify`` covers every action on the host.
:meth:`AuditTrail.start` writes a genesis record into an empty trail, so a fresh stack has a
trail that verifies, and a deleted trail is a visible drop rather than a missing file.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .errors import NapopsError

log = logging.getLogger(__name__)

GENESIS = "0" * 64
GENESIS_ACTION = "audit.genesis"
_FIELDS = {"seq", "ts", "action", "actor", "data", "prev", "hmac"}


class AuditError(NapopsError):
    """The trail cannot be appended to (unreadable, or damaged at its end)."""


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(record: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in record.items() if k != "hmac"}
    return hmac.new(key, canonical(body), hashlib.sha256).hexdigest()


def key_id(key: str | bytes) -> str:
    """A short fingerprint of the key (an HMAC of a constant): names the key without showing it."""
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, b"napops-audit-key-id", hashlib.sha256).hexdigest()[:16]


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
        self._exported_in: list[CollectorRegistry] = []

    def append(self, action: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record and fsync it; returns the record. Raises AuditError."""
        record = self._append(action, data, only_if_empty=False)
        assert record is not None
        return record

    def ensure_genesis(self) -> dict[str, Any] | None:
        """Write the genesis record when the trail is missing or empty; returns it, or None
        when the trail already has records (checked and written under the one lock, so
        sidecars starting together write one genesis between them)."""
        return self._append(GENESIS_ACTION, {"key_id": key_id(self.key)}, only_if_empty=True)

    def start(self, registry: CollectorRegistry | None = None) -> None:
        """At sidecar start: the genesis record if the trail is empty, and the record count
        exported in ``registry``. A trail that cannot be written or is damaged at its end is
        logged (``event: audit_unusable``), not raised: the sidecar still starts, its appends
        fail loudly, and ``napops trail verify`` says what is wrong."""
        try:
            self.ensure_genesis()
        except AuditError as exc:
            log.error("audit trail unusable: %s", exc, extra={"event": "audit_unusable"})
        if registry is not None and registry not in self._exported_in:
            registry.register(RecordCount(self.path))
            self._exported_in.append(registry)

    def _append(
        self, action: str, data: dict[str, Any] | None, only_if_empty: bool
    ) -> dict[str, Any] | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit trail {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                last = _last_line(fh)
                if last is not None and only_if_empty:
                    return None
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
                line = canonical(record)
                fh.write(line + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        digest = hashlib.sha256(line).hexdigest()
        # the independent copy of the chain's head: Loki keeps it even if the file is cut
        log.info(
            "audit record %d appended (%s): %s",
            seq,
            action,
            digest,
            extra={
                "event": "audit_append",
                "audit_trail": str(self.path),
                "audit_seq": seq,
                "audit_action": action,
                "audit_hash": digest,
            },
        )
        return record


class RecordCount(Collector):
    """``napops_audit_records``: complete records in the trail file, counted incrementally.

    Read on every scrape; only the bytes appended since the last scrape are read, and the file
    is counted again from the start when it shrank or was replaced. A missing file counts 0,
    so deleting or cutting the trail is a drop that ``AuditTrailShrank`` alerts on.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._inode: tuple[int, int] | None = None
        self._offset = 0
        self._count = 0

    def count(self) -> int:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._inode, self._offset, self._count = None, 0, 0
            return 0
        inode = (st.st_dev, st.st_ino)
        if inode != self._inode or st.st_size < self._offset:
            self._inode, self._offset, self._count = inode, 0, 0
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            while chunk := fh.read(1 << 16):
                self._count += chunk.count(b"\n")
                self._offset += len(chunk)
        return self._count

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("napops_audit_records", "Complete records in the audit trail.")

    def collect(self) -> Iterator[Metric]:
        try:
            value = self.count()
        except OSError as exc:
            log.warning("cannot count audit records: %s", exc, extra={"event": "audit_unreadable"})
            return
        yield GaugeMetricFamily(
            "napops_audit_records", "Complete records in the audit trail.", value=value
        )


OK, EMPTY, TAMPERED, WRONG_KEY = "ok", "empty", "tampered", "wrong_key"


@dataclass
class Verdict:
    """Outcome of :func:`verify`. ``line`` and ``reason`` name the first bad record.

    ``kind`` is ``ok``, ``empty`` (no record yet: nothing to doubt), ``tampered`` (the first bad
    record is at ``line``) or ``wrong_key`` (every record fails its HMAC while the chain links
    hold: the key is not the one the trail was written with).
    """

    ok: bool
    records: int
    head: str = GENESIS
    line: int | None = None
    reason: str | None = None
    kind: str = OK
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def verify(path: str | os.PathLike[str], key: str | bytes) -> Verdict:
    """Check every record of the trail at ``path``; stop at the first bad one.

    Raises OSError when the file cannot be read (a usage problem, not a verdict).
    """
    key = key.encode() if isinstance(key, str) else key
    data = Path(path).read_bytes()
    where = str(path)
    if not data:
        return Verdict(True, 0, GENESIS, kind=EMPTY, path=where)
    lines = data.split(b"\n")
    complete, rest = lines[:-1], lines[-1]
    prev, good = GENESIS, 0
    seqs = _seqs(complete)
    for number, raw in enumerate(complete, start=1):
        problem = _check(raw, number, prev, key, seqs)
        if problem:
            if number == 1 and problem.startswith("HMAC") and _only_the_key_differs(complete, key):
                reason = (
                    f"all {len(complete)} records fail their HMAC while the chain links hold: "
                    "the key is not the one this trail was written with (a forged record "
                    "fails alone). Check --key-file."
                )
                return Verdict(False, 0, GENESIS, 1, reason, WRONG_KEY, where)
            return Verdict(False, good, prev, number, problem, TAMPERED, where)
        prev, good = hashlib.sha256(raw).hexdigest(), good + 1
    if rest:
        return Verdict(
            False,
            good,
            prev,
            len(complete) + 1,
            "truncated: the last line is incomplete",
            TAMPERED,
            where,
        )
    return Verdict(True, good, prev, path=where)


def _only_the_key_differs(lines: list[bytes], key: bytes) -> bool:
    """Every line is a well-formed record in sequence, linked to the one before, and fails its
    HMAC: what a wrong key looks like (an edit or a forgery breaks a link, or leaves the records
    it did not touch passing). A genesis record naming this very key rules it out."""
    prev = GENESIS
    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(record, dict) or set(record) != _FIELDS:
            return False
        if record["seq"] != number or record["prev"] != prev:
            return False
        if hmac.compare_digest(str(record["hmac"]), sign(record, key)):
            return False
        if number == 1 and record["action"] == GENESIS_ACTION:
            named = record["data"].get("key_id") if isinstance(record["data"], dict) else None
            if named == key_id(key):
                return False  # the genesis was written with this key: records were forged
        prev = hashlib.sha256(raw).hexdigest()
    return True


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
