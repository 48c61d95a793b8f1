"""What makes a cut trail visible without a head kept by hand: the genesis record, the hash
of every append in the logs, and the record count as a metric."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from napops.core.audit import GENESIS_ACTION, AuditTrail, RecordCount, key_id, verify

KEY = "heads-test-key-0123456789"


def test_genesis_is_written_once_into_an_empty_trail(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    first = AuditTrail(path, KEY, actor="relay").ensure_genesis()
    assert first is not None and first["action"] == GENESIS_ACTION
    assert first["data"] == {"key_id": key_id(KEY)} and KEY not in path.read_text()
    assert AuditTrail(path, KEY, actor="certs").ensure_genesis() is None
    verdict = verify(path, KEY)
    assert verdict.ok and verdict.records == 1


def test_sidecars_starting_together_write_one_genesis(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    trails = [AuditTrail(path, KEY, actor=f"s{i}") for i in range(8)]
    threads = [threading.Thread(target=t.ensure_genesis) for t in trails]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(path.read_bytes().splitlines()) == 1


def test_every_append_logs_the_hash_the_next_record_chains_to(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, KEY, actor="deploy")
    with caplog.at_level(logging.INFO, logger="napops.core.audit"):
        trail.start()
        trail.append("deploy.start", {"service": "backend"})
    logged = [r for r in caplog.records if getattr(r, "event", None) == "audit_append"]
    lines = path.read_bytes().splitlines()
    assert [r.audit_seq for r in logged] == [1, 2]  # type: ignore[attr-defined]
    assert [r.audit_hash for r in logged] == [  # type: ignore[attr-defined]
        hashlib.sha256(line).hexdigest() for line in lines
    ]
    assert verify(path, KEY).head == logged[-1].audit_hash  # type: ignore[attr-defined]


def scrape(registry: CollectorRegistry) -> float:
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("napops_audit_records "):
            return float(line.split()[1])
    raise AssertionError("napops_audit_records not exported")


def test_record_count_follows_appends_cuts_and_deletion(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, KEY)
    registry = CollectorRegistry()
    trail.start(registry)
    assert scrape(registry) == 1
    for i in range(4):
        trail.append("backup.done", {"i": i})
    assert scrape(registry) == 5
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:3]))  # the newest two cut at a line boundary
    assert scrape(registry) == 3
    path.unlink()
    assert scrape(registry) == 0
    AuditTrail(path, KEY).start()  # a trail deleted and started again
    assert scrape(registry) == 1


def test_record_count_ignores_an_incomplete_last_line_and_reads_only_new_bytes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":')
    counter = RecordCount(path)
    assert counter.count() == 1
    with path.open("ab") as fh:
        fh.write(b"2}\n")
    assert counter.count() == 2 and counter._offset == path.stat().st_size


def test_a_sidecar_started_on_a_fresh_trail_exports_its_genesis(tmp_path: Path) -> None:
    # what core/sidecar.py does once wired (`ctx.audit.start(ctx.registry)`): a fresh trail
    # gets its genesis record and /metrics says napops_audit_records 1
    from napops.core import config as configmod
    from napops.core import sidecar

    key = tmp_path / "key"
    key.write_text(KEY)
    cfg = tmp_path / "certs.yml"
    cfg.write_text(f"audit: {{path: {tmp_path}/audit/audit.jsonl, key_file: {key}}}\n")
    config = configmod.load(configmod.common_schema("certs", None), cfg, environ={})
    ctx = sidecar.build("certs", None, config)
    assert ctx.audit is not None
    ctx.audit.start(ctx.registry)
    ctx.audit.start(ctx.registry)  # a second call neither writes nor registers again
    metrics = ctx.app.test_client().get("/metrics").get_data(as_text=True)
    assert "napops_audit_records 1.0" in metrics
    assert verify(tmp_path / "audit" / "audit.jsonl", KEY).records == 1


def test_start_on_a_damaged_trail_logs_and_still_exports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"seq":1')  # cut in the middle of its only line
    registry = CollectorRegistry()
    with caplog.at_level(logging.ERROR, logger="napops.core.audit"):
        AuditTrail(path, KEY).start(registry)
    assert [getattr(r, "event", None) for r in caplog.records] == ["audit_unusable"]
    assert scrape(registry) == 0 and path.read_bytes() == b'{"seq":1'
