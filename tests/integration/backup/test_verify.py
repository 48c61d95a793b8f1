"""The verification job on a real restic repository: a rotating subset daily, a full read;
a damaged pack fails it, and the result is exported."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from helpers import require_tool
from napops.backup import metrics
from napops.backup.main import SECTION
from napops.backup.service import BackupService
from napops.core import schema
from napops.core.locks import Locks

pytestmark = pytest.mark.integration


def test_verify_rotates_its_subset_and_a_damaged_pack_fails_it(tmp_path: Path) -> None:
    require_tool("restic")
    (tmp_path / "pw").write_text("pw\n")
    (tmp_path / "repo").mkdir()
    section = schema.apply_defaults(
        {
            "repository": str(tmp_path / "repo"),
            "password_file": str(tmp_path / "pw"),
            "cache_dir": str(tmp_path / "cache"),
            "verify_subsets": 7,
        },
        SECTION,
    )
    svc = BackupService(section, None, Locks(tmp_path / "locks"), str(tmp_path))  # type: ignore[arg-type]
    svc.restic.init()
    svc.restic.backup_stdin("svc/data.bin", [bytes(range(256)) * 4000], {"service": "svc"})

    monday, tuesday = datetime.date(2026, 12, 7), datetime.date(2026, 12, 8)
    first, second = svc.verify(False, monday), svc.verify(False, tuesday)
    assert "failed" not in first and "failed" not in second
    assert first["subset"] != second["subset"]
    assert {first["subset"], second["subset"]} <= {f"{n}/7" for n in range(1, 8)}

    pack = next(p for p in (tmp_path / "repo" / "data").rglob("*") if p.is_file())
    data = bytearray(pack.read_bytes())
    data[100] ^= 0xFF
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    full = svc.verify(True)
    assert full["subset"] == "100%" and full["failed"] == ["check 100%"]

    registry = CollectorRegistry()
    metrics.register(registry, svc.state)
    text = generate_latest(registry).decode()
    assert 'napops_backup_verify_last_result{mode="full"} 0.0' in text
    assert 'napops_backup_verify_last_result{mode="subset"} 1.0' in text
