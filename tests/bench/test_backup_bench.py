"""Benchmark of backups: throughput against `restic backup` alone on the same data, the
incremental run after about 1 % churn, the drill, and a full restore (disaster recovery)
into empty containers, with the projection for 500 GB and the link speed a 4-hour RTO needs.

Run with `make bench PYTEST_ARGS='-k backup'`; writes the "backup" section of
docs/benchmarks.md. NAPOPS_BENCH_BACKUP_MB sets the size of the files (default 1000 MB; the
database adds about a fifth of that).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from e2e.backup.conftest import MARIADB, Estate, Napops, docker, maria, require_image

from helpers import machine_line, record_benchmark, require_docker, require_tool

pytestmark = [pytest.mark.bench, pytest.mark.e2e]

FILE_KB = 512
RTO_HOURS = 4
ESTATE_GB = 500
GROWTH, YEARS = 0.20, 5


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def _rate(n: float, seconds: float) -> str:
    return f"{n / 1e6 / seconds:,.1f} MB/s"


def _timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    out = fn()
    return time.monotonic() - started, out


def _run_ok(napops: Napops, *args: str) -> dict:
    code, out = napops.run_json(*args)
    assert code == 0, out
    return out


def _generate(estate: Estate, files_mb: int) -> tuple[str, str]:
    m = estate.mariadb()
    rows = files_mb * 1000  # ~200 bytes a row: the dump is about a fifth of the files
    maria(
        m,
        "CREATE TABLE documents (id INT PRIMARY KEY, ref CHAR(32), title VARCHAR(200), "
        "updated_at DATETIME); INSERT INTO documents SELECT seq, MD5(seq), "
        "CONCAT(REPEAT(SHA1(seq), 3), seq), '2026-01-01' + INTERVAL seq SECOND "
        f"FROM seq_1_to_{rows};",
    )
    f = estate.files()
    count = files_mb * 1024 // FILE_KB
    docker(
        "exec",
        f,
        "sh",
        "-c",
        f"mkdir -p /srv/uploads/d && for i in $(seq 1 {count}); do "
        f"head -c {FILE_KB * 1024} /dev/urandom > /srv/uploads/d/f$i; done",
    )
    return m, f


def _baseline(napops: Napops, tmp: Path, m: str, f: str) -> float:
    """`restic backup` alone into a fresh repository: the volume's directory, and the same
    dump piped into --stdin by a shell."""
    repo = tmp / "baseline-repo"
    repo.mkdir()
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repo),
        "RESTIC_PASSWORD_FILE": str(napops.password),
        "RESTIC_CACHE_DIR": str(tmp / "baseline-cache"),
    }
    subprocess.run(["restic", "init", "-q"], env=env, check=True, capture_output=True)
    volume = json.loads(docker("volume", "inspect", estate_volume(f)))[0]["Mountpoint"]
    started = time.monotonic()
    subprocess.run(["restic", "backup", "-q", volume], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            f"docker exec -e MYSQL_PWD=rootpw {m} mariadb-dump --user=root --single-transaction "
            "--routines --triggers --events --all-databases --hex-blob | "
            "restic backup -q --stdin --stdin-filename all-databases.sql",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def estate_volume(container: str) -> str:
    mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", container))
    return next(mt["Name"] for mt in mounts if mt["Destination"] == "/srv/uploads")


def test_backup_numbers(tmp_path: Path) -> None:
    require_docker()
    require_tool("restic")
    for tag in (MARIADB, "napops-local/debian:bookworm"):
        require_image(tag)
    files_mb = int(os.environ.get("NAPOPS_BENCH_BACKUP_MB", "1000"))
    estate = Estate()
    napops = Napops(tmp_path)
    napops.init()
    napops.section["environment"] = "bench"
    napops.section["parallelism"] = 2
    try:
        gen_s, (m, f) = _timed(lambda: _generate(estate, files_mb))
        napops.item("mariadb", "mariadb", m)
        napops.item("uploads", "files", f, paths=["/srv/uploads"])

        base_s = _baseline(napops, tmp_path, m, f)
        full_s, full = _timed(lambda: _run_ok(napops, "backup", "run"))
        processed = full["summary"]["bytes_processed"]
        added = full["summary"]["bytes_added"]
        items = napops.state_doc()["items"]
        item_s = {k: v["duration_seconds"] for k, v in items.items()}

        # about 1 % churn: rows updated and inserted, files rewritten and added
        rows = int(maria(m, "SELECT COUNT(*) FROM documents"))
        maria(m, "UPDATE documents SET title = CONCAT('changed ', id) WHERE id % 100 = 0;")
        count = files_mb * 1024 // FILE_KB
        docker(
            "exec",
            f,
            "sh",
            "-c",
            f"for i in $(seq 1 {max(1, count // 100)}); do "
            f"head -c {FILE_KB * 1024} /dev/urandom > /srv/uploads/d/f$i; done",
        )
        incr_s, incr = _timed(lambda: _run_ok(napops, "backup", "run"))
        incr_added = incr["summary"]["bytes_added"]
        incr_processed = incr["summary"]["bytes_processed"]

        drill_s, drill = _timed(lambda: _run_ok(napops, "jobs", "run", "backup", "drill"))

        # disaster: containers and volumes gone, the estate up again empty, everything restored
        estate.destroy()
        m2 = estate.mariadb()
        f2 = estate.files()
        assert (m2, f2) == (m, f)
        dr_s, res = _timed(
            lambda: napops("dr", "restore", "--all", "--env", "bench", "--yes", "--json")
        )
        assert res.returncode == 0, res.stdout + res.stderr
        report = json.loads(res.stdout)
        assert int(maria(m, "SELECT COUNT(*) FROM documents")) == rows
        dr_items = {i["key"]: i["duration_seconds"] for i in report["items"]}
    finally:
        estate.destroy()
        ids = docker("ps", "-aq", "--filter", "label=napops.backup.scratch").split()
        if ids:
            docker("rm", "-f", "-v", *ids, check=False)

    restore_bps = incr_processed / dr_s
    future_gb = ESTATE_GB * (1 + GROWTH) ** YEARS
    hours_now = ESTATE_GB * 1e9 / restore_bps / 3600
    hours_future = future_gb * 1e9 / restore_bps / 3600
    link_now = ESTATE_GB * 1e9 * 8 / (RTO_HOURS * 3600) / 1e6
    link_future = future_gb * 1e9 * 8 / (RTO_HOURS * 3600) / 1e6
    overhead = (full_s - base_s) / base_s * 100
    engine = docker("version", "-f", "{{.Server.Version}}").strip()
    restic_version = subprocess.run(
        ["restic", "version"], capture_output=True, text=True
    ).stdout.split()[1]

    def secs(d: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.1f} s" for k, v in sorted(d.items()))

    def ok(hours: float) -> str:
        return "yes" if hours <= RTO_HOURS else "no"

    rate = _rate(incr_processed, dr_s)
    rows_md = [
        (
            "`restic backup` alone (the volume's directory, then "
            "`mariadb-dump \\| restic backup --stdin`), fresh repository",
            f"{base_s:.1f} s ({_rate(processed, base_s)})",
        ),
        (
            "`napops backup run`, full, fresh repository",
            f"{full_s:.1f} s ({_rate(processed, full_s)}); items: {secs(item_s)}",
        ),
        ("orchestration overhead against restic alone (goal under 10 %)", f"{overhead:+.0f} %"),
        ("added to the repository by the full run", _mb(added)),
        (
            f"incremental run after ~1 % churn ({rows // 100:,} rows updated, "
            f"{max(1, count // 100)} files rewritten)",
            f"{incr_s:.1f} s, {_mb(incr_processed)} read, {_mb(incr_added)} added",
        ),
        ("restore drill (every item into scratch, compared with its manifest)", f"{drill_s:.1f} s"),
        (
            "full restore, `napops dr restore --all` into empty containers",
            f"{dr_s:.1f} s for {_mb(incr_processed)}: **{rate}**; {secs(dr_items)}",
        ),
    ]
    table = "\n".join(f"| {a} | {b} |" for a, b in rows_md)
    projection = "\n".join(
        [
            f"| estate | data | full restore at {rate} | within the 4 h RTO? "
            "| link the 4 h RTO needs (data only) |",
            "|---|---|---|---|---|",
            f"| today | {ESTATE_GB} GB | {hours_now:.1f} h | {ok(hours_now)} "
            f"| {link_now:,.0f} Mbit/s |",
            f"| after {YEARS} years of +{GROWTH:.0%}/year | {future_gb:,.0f} GB "
            f"| {hours_future:.1f} h | {ok(hours_future)} | {link_future:,.0f} Mbit/s |",
        ]
    )
    record_benchmark(
        "backup",
        f"""
## backup

{machine_line()}; Docker Engine {engine}; restic {restic_version}.
Rerun: `make bench PYTEST_ARGS='-k backup'` (tests/bench/test_backup_bench.py;
NAPOPS_BENCH_BACKUP_MB={files_mb}).

Data: a MariaDB 10.11 table of {rows:,} rows and {count:,} files of {FILE_KB} KiB of random
data in a volume; {_mb(processed)} read by a full backup (the dump and the files' tar).
Generating it took {gen_s:.0f} s. Both items run in parallel (`parallelism: 2`); the
repository is on the same disk.

| what | figure |
|---|---|
{table}

Notes: the incremental run's time includes `forget --prune` (two runs the same day: the
daily policy keeps the newer snapshot of each part, so prune drops the older dump's data);
its 208 MB added is almost the whole dump, because the churn touched every 100th row and a
text dump changed all through is re-chunked everywhere by restic's content-defined chunking
(the files' churn added about 10 MB). The machine is shared by several engineers' tests, so
the figures are noisy (the overhead especially). The full restore is bound by MariaDB
importing the dump (one thread) and by the archive endpoint for the files.

Projection from that restore throughput (same disk here, no network between the repository
and the containers):

{projection}

In production the restore streams from the ASUSTOR's repository to the QNAP's containers over
the link between the boxes, so the slower of this throughput and the link decides: a 1 Gbit/s
link (~110 MB/s usable) carries {ESTATE_GB} GB in {ESTATE_GB * 1e9 / 110e6 / 3600:.1f} h and
{future_gb:,.0f} GB in {future_gb * 1e9 / 110e6 / 3600:.1f} h.
""",
    )
