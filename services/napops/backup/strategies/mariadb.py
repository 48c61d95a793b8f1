"""MariaDB / MySQL: ``mariadb-dump --single-transaction --routines --triggers --events
--all-databases`` streamed out of the container. The password goes in the exec environment
(``MYSQL_PWD``), never on a command line. The manifest counts the rows of every table
(``COUNT(*)``, exact) and the newest value of declared timestamp columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...core.dockerhost import Engine
from ..items import Item
from .common import (
    Fetch,
    Part,
    StrategyError,
    Target,
    exec_part,
    exec_text,
    image_of,
    newest_problems,
    put_stream,
    secret,
    throwaway,
    token,
    wait_until,
)

DUMP = [
    "--single-transaction",
    "--routines",
    "--triggers",
    "--events",
    "--all-databases",
    "--hex-blob",
]
SYSTEM = ("mysql", "information_schema", "performance_schema", "sys")
FILENAME = "all-databases.sql"


def validate(item: Item) -> list[str]:
    return newest_problems(item, "database.table")


def source(engine: Engine, item: Item) -> Target:
    password = secret(engine, item, "MARIADB_ROOT_PASSWORD")
    env = {"MYSQL_PWD": password} if password else {}
    return Target(item.container, env, item.options.get("exec_user"))


def client(item: Item | None) -> str:
    return str((item.options if item else {}).get("client", "mariadb"))


def dump_argv(item: Item) -> list[str]:
    user = item.options.get("user", "root")
    return [item.options.get("dump", "mariadb-dump"), f"--user={user}", *DUMP]


def sql(engine: Engine, target: Target, query: str, item: Item | None = None) -> list[list[str]]:
    user = (item.options if item else {}).get("user", "root")
    out = exec_text(
        engine,
        target.container,
        [client(item), f"--user={user}", "--batch", "--skip-column-names", "-e", query],
        target.env,
        target.user,
    )
    return [line.split("\t") for line in out.splitlines() if line]


def preflight(engine: Engine, item: Item) -> None:
    """The server answers with these credentials and every declared database exists."""
    have = {row[0] for row in sql(engine, source(engine, item), "SHOW DATABASES", item)}
    for name in item.options.get("databases") or []:
        if name not in have:
            raise StrategyError(
                f"{item.key}: database {name!r} does not exist in {item.container} "
                f"(it has: {', '.join(sorted(have - set(SYSTEM)))})"
            )


def parts(engine: Engine, item: Item) -> Iterator[Part]:
    t = source(engine, item)
    yield exec_part(engine, item, FILENAME, dump_argv(item), environment=t.env, user=t.user)


def observe(engine: Engine, target: Target, item: Item | None) -> dict[str, Any]:
    """Tables with exact row counts, and the newest value of declared columns."""
    tables = sql(
        engine,
        target,
        "SELECT table_schema, table_name FROM information_schema.tables "  # noqa: S608 - names from the server's catalogue or declared options
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
        f"({', '.join(repr(s) for s in SYSTEM)}) ORDER BY 1, 2",
        item,
    )
    counts: dict[str, int] = {}
    for i in range(0, len(tables), 200):
        batch = tables[i : i + 200]
        union = " UNION ALL ".join(
            f"SELECT '{db}.{tb}', COUNT(*) FROM `{db}`.`{tb}`"  # noqa: S608 - the catalogue's names
            for db, tb in batch
        )
        for name, count in sql(engine, target, union, item):
            counts[name] = int(count)
    newest: dict[str, str | None] = {}
    for table, column in ((item.options.get("newest") if item else None) or {}).items():
        db, tb = table.split(".")
        rows = sql(engine, target, f"SELECT MAX(`{column}`) FROM `{db}`.`{tb}`", item)  # noqa: S608 - names from the server's catalogue or declared options
        value = rows[0][0] if rows else None
        newest[f"{table}.{column}"] = None if value in (None, "NULL") else value
    return {"tables": counts, "newest": newest}


def manifest(engine: Engine, item: Item) -> dict[str, Any]:
    version = sql(engine, source(engine, item), "SELECT VERSION()", item)[0][0]
    return {"image": image_of(engine, item.container), "version": version} | observe(
        engine, source(engine, item), item
    )


def scratch(engine: Engine, image: str, labels: Mapping[str, str]) -> Target:
    """A throwaway server of the same image, ready for a restore."""
    password = token()
    name = throwaway(engine, image, labels, {"MARIADB_ROOT_PASSWORD": password})
    target = Target(name, {"MYSQL_PWD": password})
    wait_until(
        lambda: bool(sql(engine, target, "SELECT 1")), 300, f"MariaDB in {name}", engine, name
    )
    return target


def restore(engine: Engine, item: Item | None, target: Target, fetch: Fetch) -> None:
    size, chunks = fetch(FILENAME)
    path = "/tmp/napops-restore.sql"  # noqa: S108 - a path inside the container
    put_stream(engine, target.container, path, size, chunks)
    user = (item.options if item else {}).get("user", "root")
    try:
        exec_text(
            engine,
            target.container,
            ["sh", "-c", f'{client(item)} --user="$1" < {path}', "restore", user],
            target.env,
            target.user,
        )
    finally:
        engine.exec_run(target.container, ["rm", "-f", path], user="0")
