"""MongoDB (Rocket.Chat): ``mongodump --archive --gzip --oplog`` streamed out of the
container (``--oplog`` needs a replica set: the estate's has one, ``rs0``). Credentials, when
the server has any, go in a ``--config`` file copied into the container (mongodump reads the
password from it), never on the command line. The manifest counts the documents of every
collection with ``mongosh``; restore is ``mongorestore --archive --gzip --oplogReplay --drop``.

MongoDB cannot run on the development machine: these commands are unit-tested as built, and
the manifest parser against a recorded ``mongosh`` answer (tests/fixtures/backup)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ...core.dockerhost import Engine
from ..items import Item
from .common import (
    Fetch,
    Part,
    Target,
    exec_part,
    exec_text,
    image_of,
    put_stream,
    secret,
    throwaway,
    wait_until,
)

FILENAME = "mongodump.archive.gz"
CONFIG = "/tmp/napops-mongo.yml"  # noqa: S108 - a path inside the container
COUNT_JS = (
    "const out = {};"
    "db.adminCommand({listDatabases: 1}).databases.forEach(d => {"
    " if (['admin', 'local', 'config'].includes(d.name)) return;"
    " const s = db.getSiblingDB(d.name);"
    " s.getCollectionNames().forEach(c => { out[d.name + '.' + c] = s.getCollection(c)"
    ".countDocuments({}); }); });"
    "print(JSON.stringify(out));"
)


def validate(item: Item) -> list[str]:
    return []


def dump_argv(item: Item, with_config: bool) -> list[str]:
    argv = ["mongodump", "--archive", "--gzip"]
    if item.options.get("oplog", True):
        argv.append("--oplog")
    if item.options.get("uri"):
        argv.append(f"--uri={item.options['uri']}")
    if with_config:
        argv.append(f"--config={CONFIG}")
    return argv


def restore_argv(path: str) -> list[str]:
    return ["mongorestore", f"--archive={path}", "--gzip", "--oplogReplay", "--drop"]


def _config(engine: Engine, item: Item) -> bool:
    password = secret(engine, item, item.options.get("password_env"))
    if not password:
        return False
    engine.put_file(item.container, CONFIG, f"password: {json.dumps(password)}\n".encode())
    return True


def preflight(engine: Engine, item: Item) -> None:
    exec_text(
        engine, item.container, ["mongosh", "--quiet", "--eval", "db.runCommand({ping: 1}).ok"]
    )


def parts(engine: Engine, item: Item) -> Iterator[Part]:
    yield exec_part(engine, item, FILENAME, dump_argv(item, _config(engine, item)))


def parse_counts(text: str) -> dict[str, int]:
    """The JSON line ``COUNT_JS`` prints (the last line of mongosh's output)."""
    last = [line for line in text.strip().splitlines() if line.strip()][-1]
    return {k: int(v) for k, v in json.loads(last).items()}


def observe(engine: Engine, target: Target, item: Item | None) -> dict[str, Any]:
    out = exec_text(engine, target.container, ["mongosh", "--quiet", "--eval", COUNT_JS])
    return {"collections": parse_counts(out)}


def manifest(engine: Engine, item: Item) -> dict[str, Any]:
    version = exec_text(engine, item.container, ["mongosh", "--quiet", "--eval", "db.version()"])
    return {"image": image_of(engine, item.container), "version": version.strip()} | observe(
        engine, Target(item.container), item
    )


def scratch(engine: Engine, image: str, labels: Mapping[str, str]) -> Target:
    name = throwaway(engine, image, labels)
    target = Target(name)
    wait_until(
        lambda: (
            "1"
            in exec_text(
                engine, name, ["mongosh", "--quiet", "--eval", "db.runCommand({ping: 1}).ok"]
            )
        ),
        120,
        f"MongoDB in {name}",
        engine,
        name,
    )
    return target


def restore(engine: Engine, item: Item | None, target: Target, fetch: Fetch) -> None:
    size, chunks = fetch(FILENAME)
    path = "/tmp/napops-restore.archive.gz"  # noqa: S108 - a path inside the container
    put_stream(engine, target.container, path, size, chunks)
    try:
        exec_text(engine, target.container, restore_argv(path))
    finally:
        engine.exec_run(target.container, ["rm", "-f", path], user="0")
