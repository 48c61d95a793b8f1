"""Back up real MariaDB, PostgreSQL, Redis and a volume into a real restic repository, change
the data, back up again, restore each backup into scratch and compare counts and checksums
exactly with the source at the time of each backup."""

from __future__ import annotations

import json

import pytest
from conftest import Estate, Napops, docker, maria, pg

pytestmark = pytest.mark.e2e


def _seed(estate: Estate) -> dict[str, str]:
    m = estate.mariadb()
    maria(
        m,
        "CREATE TABLE docs (id INT PRIMARY KEY, body VARCHAR(64), updated_at DATETIME);"
        "INSERT INTO docs SELECT seq, MD5(seq), '2026-01-01' + INTERVAL seq MINUTE "
        "FROM seq_1_to_3000;",
    )
    maria(
        m,
        "CREATE DATABASE gitea; CREATE TABLE gitea.repo (id INT PRIMARY KEY); "
        "INSERT INTO gitea.repo SELECT seq FROM seq_1_to_42;",
        db="mysql",
    )
    p = estate.postgres()
    pg(
        p,
        "n8n",
        "CREATE TABLE wf (id serial PRIMARY KEY, name text); "
        "INSERT INTO wf (name) SELECT md5(g::text) FROM generate_series(1, 2500) g;",
    )
    r = estate.redis()
    docker(
        "exec",
        r,
        "sh",
        "-c",
        'for i in $(seq 1 300); do echo "SET key:$i value-$i"; done | redis-cli --pipe',
    )
    f = estate.files()
    docker(
        "exec",
        f,
        "sh",
        "-c",
        "mkdir -p /srv/uploads/a/b && for i in $(seq 1 25); do "
        "head -c $((i * 100000)) /dev/urandom > /srv/uploads/a/f$i.bin; done && "
        "echo hello > /srv/uploads/a/b/x.txt",
    )
    return {"mariadb": m, "postgres": p, "redis": r, "files": f}


def _facts(c: dict[str, str]) -> dict[str, object]:
    """What the source holds now, read independently of napops."""
    files = docker(
        "exec", c["files"], "sh", "-c", "cd /srv && find uploads -type f | sort | xargs sha256sum"
    )
    return {
        "docs": int(maria(c["mariadb"], "SELECT COUNT(*) FROM docs")),
        "docs_checksum": maria(c["mariadb"], "CHECKSUM TABLE docs").split()[-1],
        "newest": maria(c["mariadb"], "SELECT MAX(updated_at) FROM docs"),
        "repos": int(maria(c["mariadb"], "SELECT COUNT(*) FROM gitea.repo")),
        "wf": int(pg(c["postgres"], "n8n", "SELECT count(*) FROM wf")),
        "wf_md5": pg(
            c["postgres"], "n8n", "SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM wf"
        ),
        "keys": int(docker("exec", c["redis"], "redis-cli", "DBSIZE").strip()),
        "files": files,
    }


def _restored(napops: Napops, service: str, snapshot: str = "latest") -> tuple[dict, str | None]:
    code, out = napops.run_json(
        "restore", service, "--to", "scratch", "--keep", "--snapshot", snapshot
    )
    assert code == 0, [(o["error"], o["differences"][:5]) for o in out]
    assert len(out) == 1 and out[0]["ok"], out
    kept = out[0]["target"]
    if kept:  # a kept scratch server says whose it is
        labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", kept))
        assert labels["napops.backup.environment"] == napops.environment, labels
        assert labels["napops.backup.scratch"], labels  # the run that made it
    return out[0], kept


def _check_restored(napops: Napops, want: dict[str, object], snapshot: str) -> None:
    _, m = _restored(napops, "mariadb", snapshot)
    assert int(maria(m, "SELECT COUNT(*) FROM docs")) == want["docs"]
    assert maria(m, "CHECKSUM TABLE docs").split()[-1] == want["docs_checksum"]
    assert int(maria(m, "SELECT COUNT(*) FROM gitea.repo")) == want["repos"]
    _, p = _restored(napops, "n8n-db", snapshot)
    assert int(pg(p, "n8n", "SELECT count(*) FROM wf")) == want["wf"]
    assert (
        pg(p, "n8n", "SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM wf")
        == want["wf_md5"]
    )
    out, r = _restored(napops, "cache", snapshot)
    assert int(docker("exec", r, "redis-cli", "DBSIZE").strip()) == want["keys"]
    out, _ = _restored(napops, "uploads", snapshot)
    # a sample of the files (20 by default) restored, checksums equal to the manifest's
    assert out["compared"] == min(20, len(str(want["files"]).splitlines()))


def _manifest_snapshot(napops: Napops, service: str) -> str:
    snaps = json.loads(
        napops.restic("snapshots", "--json", "--tag", f"service={service},part=manifest")
    )
    return snaps[-1]["id"]


def test_back_up_change_back_up_restore_both(estate: Estate, napops: Napops) -> None:
    c = _seed(estate)
    napops.item(
        "mariadb",
        "mariadb",
        c["mariadb"],
        newest={"app.docs": "updated_at"},
        databases=["app", "gitea"],
    )
    napops.item("n8n-db", "postgres", c["postgres"])
    napops.item("cache", "redis", c["redis"])
    napops.item(
        "uploads", "files", c["files"], paths=["/srv/uploads"], stop=True, stop_timeout_seconds=2
    )
    # retention keeps one snapshot a day per part: it would forget the first run's backup,
    # which this test restores too (retention runs in the other e2e tests)
    napops.section["retention"] = {"enabled": False}
    first = _facts(c)

    code, run = napops.run_json("backup", "run")
    assert code == 0, run
    assert run["state"] == "success" and sorted(run["summary"]["succeeded"]) == [
        "cache/redis",
        "mariadb/mariadb",
        "n8n-db/postgres",
        "uploads/files",
    ]
    assert run["summary"]["pruned"] is False
    first_snapshot = {
        s: _manifest_snapshot(napops, s) for s in ("mariadb", "n8n-db", "cache", "uploads")
    }
    # the manifest recorded what the source held
    doc = json.loads(napops.restic("dump", first_snapshot["mariadb"], "/mariadb/manifest.json"))
    assert doc["manifest"]["tables"]["app.docs"] == first["docs"]
    assert doc["manifest"]["newest"]["app.docs.updated_at"] == first["newest"]
    assert docker("inspect", "-f", "{{.State.Running}}", c["files"]).strip() == "true"

    # change everything (about 1 %), back up again
    maria(
        c["mariadb"],
        "INSERT INTO docs SELECT seq, 'new', '2027-01-01' FROM seq_3001_to_3030; "
        "UPDATE docs SET body = 'changed' WHERE id < 10;",
    )
    pg(
        c["postgres"],
        "n8n",
        "DELETE FROM wf WHERE id <= 25; INSERT INTO wf (name) VALUES ('late');",
    )
    docker("exec", c["redis"], "redis-cli", "DEL", "key:1", "key:2")
    docker(
        "exec",
        c["files"],
        "sh",
        "-c",
        "echo changed > /srv/uploads/a/f1.bin && rm /srv/uploads/a/f2.bin",
    )
    second = _facts(c)
    assert second != first
    code, run = napops.run_json("backup", "run")
    assert code == 0, run
    # restic deduplicated the unchanged files (about 32 MB of random data, two small files changed)
    uploads = napops.state_doc()["items"]["uploads/files"]
    assert 0 < uploads["bytes_added"] < uploads["bytes_processed"] / 2, uploads

    _check_restored(napops, second, "latest")
    # and the first backup, chosen by any snapshot id of its run
    _, m = _restored(napops, "mariadb", first_snapshot["mariadb"][:8])
    assert int(maria(m, "SELECT COUNT(*) FROM docs")) == first["docs"]
    assert maria(m, "CHECKSUM TABLE docs").split()[-1] == first["docs_checksum"]
    _, p = _restored(napops, "n8n-db", first_snapshot["n8n-db"][:8])
    assert (
        pg(p, "n8n", "SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM wf")
        == first["wf_md5"]
    )

    out, r = _restored(napops, "cache", first_snapshot["cache"][:8])
    assert int(docker("exec", r, "redis-cli", "DBSIZE").strip()) == first["keys"]

    # the drill job restores every item into scratch and compares with its manifest
    code, run = napops.run_json("jobs", "run", "backup", "drill")
    assert code == 0 and run["state"] == "success", run
    assert run["summary"]["compared"]["mariadb/mariadb"] >= second["docs"]
    state = napops.state_doc()
    assert {k: v["ok"] for k, v in state["drills"].items()} == {
        "cache/redis": True,
        "mariadb/mariadb": True,
        "n8n-db/postgres": True,
        "uploads/files": True,
    }
