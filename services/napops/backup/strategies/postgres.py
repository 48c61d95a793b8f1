"""PostgreSQL: ``pg_dumpall --globals-only`` (roles, tablespaces) plus ``pg_dump -Fc`` of
every database, each streamed out of the container as its own part. The password goes in the
exec environment (``PGPASSWORD``). The manifest counts the rows of every table exactly."""

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
    container_env,
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

GLOBALS = "globals.sql"


def validate(item: Item) -> list[str]:
    return newest_problems(item, "database.schema.table")


def _user(engine: Engine, item: Item) -> str:
    return str(
        item.options.get("user")
        or container_env(engine, item.container).get("POSTGRES_USER")
        or "postgres"
    )


def source(engine: Engine, item: Item) -> Target:
    password = secret(engine, item, "POSTGRES_PASSWORD")
    env = {"PGUSER": _user(engine, item)}
    if password:
        env["PGPASSWORD"] = password
    return Target(item.container, env, item.options.get("exec_user"))


def psql(engine: Engine, target: Target, query: str, db: str = "postgres") -> list[list[str]]:
    out = exec_text(
        engine,
        target.container,
        ["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", query],
        target.env,
        target.user,
    )
    return [line.split("\t") for line in out.splitlines() if line]


def databases(engine: Engine, target: Target) -> list[str]:
    rows = psql(
        engine,
        target,
        "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1",
    )
    return [r[0] for r in rows]


def dump_argv(db: str) -> list[str]:
    return ["pg_dump", "-Fc", "-d", db]


def globals_argv() -> list[str]:
    return ["pg_dumpall", "--globals-only"]


def preflight(engine: Engine, item: Item) -> None:
    have = databases(engine, source(engine, item))
    for name in item.options.get("databases") or []:
        if name not in have:
            raise StrategyError(
                f"{item.key}: database {name!r} does not exist in {item.container} "
                f"(it has: {', '.join(have)})"
            )


def parts(engine: Engine, item: Item) -> Iterator[Part]:
    t = source(engine, item)
    yield exec_part(engine, item, GLOBALS, globals_argv(), environment=t.env, user=t.user)
    for db in item.options.get("databases") or databases(engine, t):
        yield exec_part(engine, item, f"{db}.pgdump", dump_argv(db), environment=t.env, user=t.user)


def observe(engine: Engine, target: Target, item: Item | None) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for db in databases(engine, target):
        gen = psql(
            engine,
            target,
            "SELECT string_agg(format('SELECT %L, count(*) FROM %I.%I', "
            "schemaname || '.' || tablename, schemaname, tablename), ' UNION ALL ') "
            "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            db,
        )
        if gen and gen[0] and gen[0][0]:
            for name, count in psql(engine, target, gen[0][0], db):
                counts[f"{db}.{name}"] = int(count)
    newest: dict[str, str | None] = {}
    for table, column in ((item.options.get("newest") if item else None) or {}).items():
        db, schema, tb = table.split(".")
        rows = psql(engine, target, f'SELECT max("{column}") FROM "{schema}"."{tb}"', db)  # noqa: S608 - names from the server's catalogue or declared options
        newest[f"{table}.{column}"] = rows[0][0] if rows and rows[0][0] else None
    return {"tables": counts, "newest": newest}


def manifest(engine: Engine, item: Item) -> dict[str, Any]:
    t = source(engine, item)
    version = psql(engine, t, "SHOW server_version")[0][0]
    return {
        "image": image_of(engine, item.container),
        "version": version,
        "databases": databases(engine, t),
    } | observe(engine, t, item)


def scratch(engine: Engine, image: str, labels: Mapping[str, str]) -> Target:
    password = token()
    name = throwaway(engine, image, labels, {"POSTGRES_PASSWORD": password})
    target = Target(name, {"PGPASSWORD": password, "PGUSER": "postgres"})
    wait_until(
        lambda: bool(psql(engine, target, "SELECT 1")),
        300,
        f"PostgreSQL in {name}",
        engine,
        name,
    )
    return target


def restore(
    engine: Engine, item: Item | None, target: Target, fetch: Fetch, dbs: list[str] | None = None
) -> None:
    """Globals first (existing roles are kept), then every database recreated from its dump."""
    size, chunks = fetch(GLOBALS)
    path = "/tmp/napops-restore"  # noqa: S108 - a path inside the container
    put_stream(engine, target.container, path, size, chunks)
    try:
        exec_text(
            engine,
            target.container,
            ["psql", "-X", "-q", "-d", "postgres", "-f", path],
            target.env,
            target.user,
        )
        for db in dbs or []:
            size, chunks = fetch(f"{db}.pgdump")
            put_stream(engine, target.container, path, size, chunks)
            exec_text(
                engine,
                target.container,
                ["pg_restore", "--clean", "--if-exists", "--create", "-d", "template1", path],
                target.env,
                target.user,
            )
    finally:
        engine.exec_run(target.container, ["rm", "-f", path], user="0")
