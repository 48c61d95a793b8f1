"""`napops trail verify`: the exact exit status of every outcome, run in-process through the CLI.

0 intact or empty, 1 tampered, 2 usage or I/O (no key, missing or unreadable key or trail, a
key that matches no record).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from napops import cli
from napops.core.audit import AuditTrail, canonical

KEY = "verify-test-key-0123456789"


@pytest.fixture()
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_text(KEY + "\n", encoding="utf-8")
    return path


def make_trail(path: Path, n: int, key: str = KEY, genesis: bool = True) -> Path:
    trail = AuditTrail(path, key, actor="test")
    if genesis:
        trail.ensure_genesis()
    for i in range(n):
        trail.append("backup.done", {"i": i})
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["trail", "verify", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_intact_trail_exits_0_and_counts_in_words(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_trail(tmp_path / "a.jsonl", 2)
    status, out, _ = run(capsys, str(path), "--key-file", str(key_file))
    assert status == 0 and out.startswith("OK: 3 records, chain intact")


def test_genesis_only_trail_exits_0_saying_1_record(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_trail(tmp_path / "a.jsonl", 0)
    status, out, _ = run(capsys, str(path), "--key-file", str(key_file))
    assert status == 0 and out.startswith("OK: 1 record, chain intact")


def test_empty_trail_exits_0(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"")
    status, out, _ = run(capsys, str(path), "--key-file", str(key_file))
    assert status == 0 and out.startswith("OK: empty trail")


def test_deleted_record_exits_1(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_trail(tmp_path / "a.jsonl", 3)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2] + lines[3:]))
    status, out, _ = run(capsys, str(path), "--key-file", str(key_file), "--json")
    verdict = json.loads(out)
    assert status == 1 and (verdict["kind"], verdict["line"]) == ("tampered", 3)


@pytest.mark.parametrize("problem", ["missing", "directory", "empty", "none"])
def test_key_file_problems_exit_2(
    problem: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NAPOPS_AUDIT_KEY_FILE", raising=False)
    path = make_trail(tmp_path / "a.jsonl", 1)
    key = tmp_path / "key"
    if problem == "directory":
        key.mkdir()  # unreadable as a file, even for root
    elif problem == "empty":
        key.write_text("\n", encoding="utf-8")
    args = [str(path)] if problem == "none" else [str(path), "--key-file", str(key)]
    status, out, err = run(capsys, *args)
    assert status == 2 and out == ""
    assert "key" in err and err.startswith("napops trail verify: ")


def test_missing_trail_exits_2(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, str(tmp_path / "absent.jsonl"), "--key-file", str(key_file))
    assert status == 2 and "cannot read trail" in err


def test_wrong_key_is_told_apart_from_a_forged_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_trail(tmp_path / "a.jsonl", 3)
    other = tmp_path / "other-key"
    other.write_text("another-key-entirely-0000", encoding="utf-8")
    status, out, _ = run(capsys, str(path), "--key-file", str(other), "--json")
    verdict = json.loads(out)
    assert status == 2 and verdict["kind"] == "wrong_key" and verdict["records"] == 0
    assert "all 4 records fail their HMAC while the chain links hold" in verdict["reason"]


def test_one_forged_record_with_relinked_chain_is_tampering_not_a_wrong_key(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an attacker without the key edits record 2 and rewrites every later `prev`, so the links
    # hold; the records before it still pass their HMAC, so it cannot be the key
    path = make_trail(tmp_path / "a.jsonl", 3)
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    records[1]["data"] = {"i": 99}
    prev = hashlib.sha256(canonical(records[0])).hexdigest()
    for record in records[1:]:
        record["prev"] = prev
        prev = hashlib.sha256(canonical(record)).hexdigest()
    path.write_bytes(b"".join(canonical(r) + b"\n" for r in records))
    status, out, _ = run(capsys, str(path), "--key-file", str(key_file), "--json")
    verdict = json.loads(out)
    assert status == 1 and (verdict["kind"], verdict["line"]) == ("tampered", 2)


def test_every_record_forged_behind_a_genesis_of_this_key_is_tampering(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the whole trail re-signed under another key, but the genesis still names ours: the
    # genesis's key_id shows the key is right, so this is a forgery (exit 1), not a wrong key
    path = make_trail(tmp_path / "a.jsonl", 2)
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    forged = tmp_path / "forged.jsonl"
    forger = AuditTrail(forged, "the-forgers-own-key-000000", actor="test")
    for record in records:
        line = forger.append(record["action"], record["data"])
        assert line["seq"] == record["seq"]
    status, out, _ = run(capsys, str(forged), "--key-file", str(key_file), "--json")
    assert status == 1 and json.loads(out)["kind"] == "tampered"


def test_several_trails_at_once_report_the_worst(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_trail(tmp_path / "a.jsonl", 1)
    b = make_trail(tmp_path / "b.jsonl", 2)
    status, out, _ = run(capsys, str(a), str(b), "--key-file", str(key_file))
    assert status == 0 and out.count("OK: ") == 2 and f"{b}: OK: 3 records" in out
    b.write_bytes(b.read_bytes()[:-5])
    status, out, _ = run(capsys, str(a), str(b), str(tmp_path / "c"), "--key-file", str(key_file))
    assert status == 1 and f"{b}: BAD: line 3: truncated" in out
