"""Audit trail: tampering of every kind is detected and located; concurrent appends chain."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from napops.core.audit import AuditError, AuditTrail, canonical, sign, verify

KEY = "test-key-0123456789abcdef"


def make_trail(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, KEY, actor="test")
    for i in range(n):
        trail.append("deploy.start", {"service": "backend", "n": i, "note": "ทดสอบ"})
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_intact_trail_verifies(tmp_path: Path) -> None:
    verdict = verify(make_trail(tmp_path), KEY)
    assert verdict.ok and verdict.records == 5 and verdict.line is None


def test_edited_record_is_detected_at_its_line(tmp_path: Path) -> None:
    path = make_trail(tmp_path)
    lines = lines_of(path)
    lines[2] = lines[2].replace(b'"n":2', b'"n":7')
    path.write_bytes(b"".join(lines))
    verdict = verify(path, KEY)
    assert (verdict.ok, verdict.line, verdict.records) == (False, 3, 2)
    assert "edited or forged" in str(verdict.reason)


def test_deleted_record_is_detected(tmp_path: Path) -> None:
    path = make_trail(tmp_path)
    lines = lines_of(path)
    del lines[1]
    path.write_bytes(b"".join(lines))
    verdict = verify(path, KEY)
    assert (verdict.ok, verdict.line) == (False, 2)
    assert "missing" in str(verdict.reason)


def test_swapped_records_are_detected(tmp_path: Path) -> None:
    path = make_trail(tmp_path)
    lines = lines_of(path)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_bytes(b"".join(lines))
    verdict = verify(path, KEY)
    assert (verdict.ok, verdict.line) == (False, 2)
    assert "out of order" in str(verdict.reason)


def test_truncated_last_line_is_detected(tmp_path: Path) -> None:
    path = make_trail(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    verdict = verify(path, KEY)
    assert (verdict.ok, verdict.line, verdict.records) == (False, 5, 4)
    assert "truncated" in str(verdict.reason)


def test_record_forged_without_the_key_is_detected(tmp_path: Path) -> None:
    path = make_trail(tmp_path)
    lines = lines_of(path)
    record = json.loads(lines[3])
    record["data"] = {"service": "backend", "forged": True}
    record["hmac"] = sign(record, b"a-guessed-key-that-is-wrong")
    lines[3] = canonical(record) + b"\n"
    path.write_bytes(b"".join(lines))
    verdict = verify(path, KEY)
    assert (verdict.ok, verdict.line) == (False, 4)


def test_reforged_chain_with_the_key_but_wrong_prev_is_detected(tmp_path: Path) -> None:
    # Someone with the key who re-signs an edited record still breaks the next record's prev.
    path = make_trail(tmp_path)
    lines = lines_of(path)
    record = json.loads(lines[1])
    record["data"] = {"edited": True}
    record["hmac"] = sign(record, KEY.encode())
    lines[1] = canonical(record) + b"\n"
    path.write_bytes(b"".join(lines))
    verdict = verify(path, KEY)
    assert (verdict.ok, verdict.line) == (False, 3)
    assert "hash chain broken" in str(verdict.reason)


def test_appending_after_a_damaged_end_is_refused(tmp_path: Path) -> None:
    path = make_trail(tmp_path)
    before = path.read_bytes()[:-5]
    path.write_bytes(before)
    with pytest.raises(AuditError):
        AuditTrail(path, KEY).append("x")
    assert path.read_bytes() == before


def _append_many(path: str, worker: int, count: int) -> None:
    trail = AuditTrail(path, KEY, actor=f"worker-{worker}")
    for i in range(count):
        trail.append("test.append", {"worker": worker, "i": i})


def test_eight_processes_appending_500_each_leave_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 500)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    verdict = verify(path, KEY)
    assert verdict.ok, verdict
    assert verdict.records == 4000
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [r["seq"] for r in records] == list(range(1, 4001))
    per_worker = {
        w: [r["data"]["i"] for r in records if r["data"]["worker"] == w] for w in range(8)
    }
    assert all(v == list(range(500)) for v in per_worker.values())
