"""Retention on a real restic repository: per part (host and path), the estate's policy
keeps the newest snapshot of a day; other parts and their runs are untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.restic import make_repo

from helpers import require_tool
from napops.backup.restic import Restic

pytestmark = pytest.mark.integration


def test_forget_prune_keeps_the_newest_of_the_day_for_each_part(tmp_path: Path) -> None:
    require_tool("restic")
    (tmp_path / "pw").write_text("pw\n")
    r = Restic(
        str(make_repo(tmp_path / "repo", "pw")), str(tmp_path / "pw"), cache_dir=str(tmp_path / "c")
    )
    ids = {}
    for run in ("run1", "run2"):
        for part in ("db/all.sql", "db/manifest.json", "files/uploads.tar"):
            s = r.backup_stdin(part, [f"{run} {part}".encode()], {"service": "db", "run": run})
            ids[(run, part)] = s.snapshot_id
    r.forget_prune(30, 4, 6)
    left = {(s.tags["run"], s.paths[0]) for s in r.snapshots()}
    assert left == {
        ("run2", "/db/all.sql"),
        ("run2", "/db/manifest.json"),
        ("run2", "/files/uploads.tar"),
    }
    assert r.dump_bytes(ids[("run2", "db/all.sql")], "/db/all.sql") == b"run2 db/all.sql"
