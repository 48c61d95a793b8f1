"""Disaster drill: a small estate (MariaDB, PostgreSQL, a volume) backed up, its containers
and volumes destroyed and created again empty, `napops dr restore --all` rebuilds the data,
and everything matches. And the pull model: a run through DOCKER_HOST=ssh://."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import Estate, Napops, docker, maria, pg

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration" / "core"))
from test_dockerhost import ssh_host  # noqa: E402,F401,F811 - the real sshd fixture

pytestmark = pytest.mark.e2e


def _facts(m: str, p: str, f: str) -> dict[str, object]:
    return {
        "docs": maria(m, "SELECT COUNT(*), SUM(id) FROM docs"),
        "checksum": maria(m, "CHECKSUM TABLE docs").split()[-1],
        "wf": pg(p, "n8n", "SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM wf"),
        "files": docker(
            "exec", f, "sh", "-c", "cd /srv && find uploads -type f | sort | xargs sha256sum"
        ),
    }


def _estate(estate: Estate) -> tuple[str, str, str]:
    return estate.mariadb(), estate.postgres(), estate.files()


def test_disaster_recovery_rebuilds_every_service(estate: Estate, napops: Napops) -> None:
    m, p, f = _estate(estate)
    maria(
        m,
        "CREATE TABLE docs (id INT PRIMARY KEY, body TEXT); "
        "INSERT INTO docs SELECT seq, REPEAT(MD5(seq), 5) FROM seq_1_to_5000;",
    )
    pg(
        p,
        "n8n",
        "CREATE TABLE wf (id serial PRIMARY KEY, name text); "
        "INSERT INTO wf (name) SELECT md5(g::text) FROM generate_series(1, 4000) g;",
    )
    docker(
        "exec",
        f,
        "sh",
        "-c",
        "mkdir -p /srv/uploads/2026 && for i in $(seq 1 40); do "
        "head -c 4096 /dev/urandom > /srv/uploads/2026/doc$i.pdf; done",
    )
    napops.item("mariadb", "mariadb", m)
    napops.item("n8n-db", "postgres", p)
    napops.item("uploads", "files", f, paths=["/srv/uploads"], stop=True, stop_timeout_seconds=1)
    before = _facts(m, p, f)
    code, run = napops.run_json("backup", "run")
    assert code == 0, run

    # the disaster: containers and volumes gone; the stacks are brought up again, empty
    estate.destroy()
    m, p, f = _estate(estate)
    assert maria(m, "SHOW TABLES") == ""
    assert docker("exec", f, "ls", "/srv/uploads").strip() == ""

    res = napops("dr", "restore", "--all", "--env", napops.environment, "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"disaster recovery of env {napops.environment}: OK" in res.stdout
    # databases first, with progress
    order = [line for line in res.stderr.splitlines() if "restoring" in line]
    assert [o.split()[-2] for o in order] == ["mariadb/mariadb", "n8n-db/postgres", "uploads/files"]
    assert _facts(m, p, f) == before


def test_a_run_through_ssh_reaches_the_engine_like_the_pull_model(
    estate: Estate,
    napops: Napops,
    ssh_host: str,  # noqa: F811 - the fixture
) -> None:
    r = estate.redis()
    docker(
        "exec",
        r,
        "sh",
        "-c",
        'for i in $(seq 1 100); do echo "SET k$i v$i"; done | redis-cli --pipe',
    )
    napops.env = dict(os.environ)  # PATH with the ssh wrapper of the fixture
    napops.item("cache", "redis", r)
    original = napops.write

    def write() -> None:
        original()
        import yaml

        doc = yaml.safe_load(napops.config.read_text())
        doc["docker"] = {"host": ssh_host, "timeout_seconds": 60}
        napops.config.write_text(yaml.safe_dump(doc))

    napops.write = write  # type: ignore[method-assign]
    code, run = napops.run_json("backup", "run")
    assert code == 0, run
    code, out = napops.run_json("restore", "cache", "--to", "scratch")
    assert code == 0 and out[0]["compared"] == 100, out
