"""The commands the strategies build, and the answers they parse. For MongoDB, Elasticsearch
and Gitea (which cannot run here) this is as far as the tests go: commands as documented by
their tools, answers parsed from recorded responses (tests/fixtures/backup)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from helpers import FIXTURES
from napops.backup import strategies
from napops.backup.items import Item
from napops.backup.strategies import elasticsearch, files, gitea, mariadb, mongodb, postgres
from napops.backup.strategies.common import StrategyError, tar_one

FIX = FIXTURES / "backup"


def item(strategy: str, **options: object) -> Item:
    return Item("svc", strategy, "c1", "databases", options)


def test_every_strategy_has_the_same_functions() -> None:
    for name in (
        "mariadb",
        "postgres",
        "mongodb",
        "redis",
        "elasticsearch",
        "gitea",
        "files",
        "command",
    ):
        for fn in ("validate", "preflight", "parts", "manifest", "restore"):
            assert strategies.has(name, fn), (name, fn)
    for name in ("mariadb", "postgres", "mongodb", "redis"):
        assert strategies.has(name, "scratch") and strategies.has(name, "observe")
    with pytest.raises(KeyError, match="unknown strategy 'tape'"):
        strategies.get("tape")


def test_mariadb_dumps_every_database_consistently_without_a_password_argument() -> None:
    argv = mariadb.dump_argv(item("mariadb"))
    assert argv == [
        "mariadb-dump",
        "--user=root",
        "--single-transaction",
        "--routines",
        "--triggers",
        "--events",
        "--all-databases",
        "--hex-blob",
    ]
    assert not any("password" in a or a.startswith("-p") for a in argv)
    assert mariadb.validate(item("mariadb", newest={"app.docs": "updated_at"})) == []
    assert mariadb.validate(item("mariadb", newest={"docs": "updated_at"})) == [
        "At 'svc/mariadb.options.newest': 'docs' must be database.table"
    ]


def test_postgres_dumps_globals_and_each_database_in_custom_format() -> None:
    assert postgres.globals_argv() == ["pg_dumpall", "--globals-only"]
    assert postgres.dump_argv("n8n") == ["pg_dump", "-Fc", "-d", "n8n"]
    assert postgres.validate(item("postgres", newest={"n8n.workflow": "updatedAt"})) == [
        "At 'svc/postgres.options.newest': 'n8n.workflow' must be database.schema.table"
    ]


def test_mongodb_dump_and_restore_commands() -> None:
    assert mongodb.dump_argv(item("mongodb"), with_config=False) == [
        "mongodump",
        "--archive",
        "--gzip",
        "--oplog",
    ]
    assert mongodb.dump_argv(
        item("mongodb", uri="mongodb://mongo:27017/?replicaSet=rs0"), with_config=True
    ) == [
        "mongodump",
        "--archive",
        "--gzip",
        "--oplog",
        "--uri=mongodb://mongo:27017/?replicaSet=rs0",
        "--config=/tmp/napops-mongo.yml",
    ]
    assert mongodb.restore_argv("/tmp/a") == [
        "mongorestore",
        "--archive=/tmp/a",
        "--gzip",
        "--oplogReplay",
        "--drop",
    ]
    assert mongodb.parse_counts(
        "Current Mongosh Log ID: 1\n" + (FIX / "mongosh-counts.txt").read_text()
    ) == {
        "rocketchat.rocketchat_message": 15231,
        "rocketchat.users": 48,
        "rocketchat.rocketchat_room": 112,
    }


def test_elasticsearch_snapshot_calls_and_answers() -> None:
    assert elasticsearch.curl(
        "PUT",
        "http://localhost:9200/_snapshot/napops",
        {"type": "fs", "settings": {"location": "/snap"}},
    ) == [
        "curl",
        "-sS",
        "--fail-with-body",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"type":"fs","settings":{"location":"/snap"}}',
        "http://localhost:9200/_snapshot/napops",
    ]
    assert (
        elasticsearch.snapshot_state(json.loads((FIX / "es-snapshot-success.json").read_text()))
        == "SUCCESS"
    )
    assert (
        elasticsearch.snapshot_state(json.loads((FIX / "es-snapshot-partial.json").read_text()))
        == "PARTIAL"
    )
    assert elasticsearch.parse_indices(json.loads((FIX / "es-cat-indices.json").read_text())) == {
        "documents": 48213,
        "correspondence": 9120,
    }
    assert elasticsearch.validate(item("elasticsearch", policy="snapshot")) == [
        "At 'svc/elasticsearch.options.location': the snapshot repository path is required"
    ]
    assert elasticsearch.validate(item("elasticsearch", policy="reindex")) == []
    assert elasticsearch.validate(item("elasticsearch", policy="copy")) == [
        "At 'svc/elasticsearch.options.policy': 'copy' is not one of 'snapshot', 'reindex'"
    ]


def test_gitea_dump_goes_to_stdout_without_the_database() -> None:
    assert gitea.dump_argv(item("gitea")) == [
        "gitea",
        "dump",
        "--config",
        "/etc/gitea/app.ini",
        "--file",
        "-",
        "--type",
        "tar.gz",
        "--skip-db",
        "--skip-log",
        "--quiet",
    ]


def _gitea_archive(with_ini: bool = True) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        entries = {
            "repos/np-dms/lcbp3.git/HEAD": b"ref: refs/heads/main\n",
            "data/avatars/1": b"png",
        }
        if with_ini:
            entries["custom/conf/app.ini"] = b"[server]\n"
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        d = tarfile.TarInfo("repos/np-dms/lcbp3.git")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
    return gzip.compress(raw.getvalue())


def test_the_gitea_drill_reads_the_dump_to_its_end() -> None:
    assert gitea.check_dump([_gitea_archive()]) == {"entries": 4, "repositories": 1}
    with pytest.raises(StrategyError, match="no app.ini"):
        gitea.check_dump([_gitea_archive(with_ini=False)])
    with pytest.raises(StrategyError, match="unreadable"):
        gitea.check_dump([_gitea_archive()[:200]])


def test_files_hashes_members_while_the_stream_passes_through() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in {"uploads/a.pdf": b"A" * 70000, "uploads/b.txt": b"hello"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    digest = files.TarDigest(data[i : i + 4096] for i in range(0, len(data), 4096))
    assert b"".join(digest) == data
    digest.check()
    assert digest.files["uploads/b.txt"] == {
        "size": 5,
        "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    }
    assert files.sample(["a", "b", "c", "d"], 2, "run1") == files.sample(
        ["d", "c", "b", "a"], 2, "run1"
    )
    assert files.filename("/srv/uploads/") == "files/srv/uploads.tar"


def test_a_file_streamed_into_a_container_is_one_tar_member_of_its_size() -> None:
    out = b"".join(tar_one("dump.rdb", 3, [b"ab", b"c"]))
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        member = tar.getmember("dump.rdb")
        assert member.size == 3 and tar.extractfile(member).read() == b"abc"  # type: ignore[union-attr]
    with pytest.raises(StrategyError, match="expected 5 bytes, the stream had 3"):
        b"".join(tar_one("x", 5, [b"abc"]))
