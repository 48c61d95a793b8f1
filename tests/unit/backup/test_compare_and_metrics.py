"""The drill's comparison with the manifest, and the metrics exported from the state file."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from napops.backup import metrics
from napops.backup.restore import compare
from napops.backup.state import State


def test_compare_reports_every_difference() -> None:
    manifest = {
        "tables": {"app.docs": 3000, "app.users": 5},
        "newest": {"app.docs.updated_at": "2026-01-03 02:00:00"},
    }
    assert compare(
        manifest,
        {
            "tables": {"app.docs": 3000, "app.users": 5},
            "newest": {"app.docs.updated_at": "2026-01-03 02:00:00"},
        },
    ) == (3006, [])
    n, diffs = compare(manifest, {"tables": {"app.docs": 2999, "app.extra": 1}, "newest": {}})
    assert diffs == [
        "tables app.docs: expected 3000, restored 2999",
        "tables app.users: expected 5, restored None",
        "tables app.extra: restored but not in the manifest",
        "newest app.docs.updated_at: expected 2026-01-03 02:00:00, restored None",
    ]


def test_metrics_come_from_the_state_file(tmp_path: Path) -> None:
    state = State(tmp_path / "s.json")
    state.item(
        "mariadb/mariadb",
        {
            "service": "mariadb",
            "kind": "mariadb",
            "ok": True,
            "started": 100.0,
            "finished": 160.0,
            "duration_seconds": 60.0,
            "bytes_processed": 5000,
            "bytes_added": 700,
            "files": 1,
        },
    )
    state.item(
        "mariadb/mariadb",
        {
            "service": "mariadb",
            "kind": "mariadb",
            "ok": False,
            "started": 200.0,
            "finished": 201.0,
            "duration_seconds": 1.0,
            "bytes_processed": 0,
            "bytes_added": 0,
            "files": 0,
        },
    )
    state.drill(
        "cache/redis",
        {
            "service": "cache",
            "kind": "redis",
            "ok": True,
            "finished": 300.0,
            "compared": 42,
            "duration_seconds": 3.0,
        },
    )
    state.verify({"subset": {"ok": False, "finished": 400.0}})
    state.repository({"free_bytes": 10, "capacity_bytes": 100, "size_bytes": 50, "checked": 1.0})
    registry = CollectorRegistry()
    metrics.register(registry, state)
    text = generate_latest(registry).decode()
    for line in (
        'napops_backup_last_success_timestamp_seconds{kind="mariadb",service="mariadb"} 160.0',
        'napops_backup_last_attempt_timestamp_seconds{kind="mariadb",service="mariadb"} 200.0',
        'napops_backup_last_result{kind="mariadb",service="mariadb"} 0.0',
        'napops_backup_item_runs_total{kind="mariadb",result="success",service="mariadb"} 1.0',
        'napops_backup_item_runs_total{kind="mariadb",result="failed",service="mariadb"} 1.0',
        'napops_backup_drill_rows_compared{kind="redis",service="cache"} 42.0',
        'napops_backup_verify_last_result{mode="subset"} 0.0',
        "napops_backup_repository_free_bytes 10.0",
        "napops_backup_repository_capacity_bytes 100.0",
    ):
        assert line in text, line
