"""Redis: BGSAVE, wait until LASTSAVE moves past its value before the save (and the save
reports ok), then stream the RDB file out of the container with ``cat``. The password goes
in the exec environment (``REDISCLI_AUTH``): from ``password_file``, the container variable
``password_env``, or the ``--requirepass`` argument of the server's own command.

Restoring into a server that runs with ``appendonly yes`` needs its AOF directory moved away
first (Redis would load the AOF instead of the RDB): ``restore --to live`` refuses such a
server and says so; the drill's scratch server runs without AOF."""

from __future__ import annotations

import time
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
    put_stream,
    secret,
    throwaway,
    wait_until,
)

FILENAME = "dump.rdb"


def validate(item: Item) -> list[str]:
    return []


def source(engine: Engine, item: Item) -> Target:
    password = secret(engine, item, item.options.get("password_env"))
    if password is None:
        cmd = engine.inspect(item.container)["Config"].get("Cmd") or []
        for i, arg in enumerate(cmd):
            if arg == "--requirepass" and i + 1 < len(cmd):
                password = cmd[i + 1]
    return Target(item.container, {"REDISCLI_AUTH": password} if password else {})


def cli(engine: Engine, target: Target, *args: str) -> str:
    out = exec_text(
        engine, target.container, ["redis-cli", "--no-raw", *args], target.env, target.user
    )
    text = out.strip()
    if text.startswith("(error)"):
        raise StrategyError(f"redis-cli {' '.join(args)} in {target.container}: {text}")
    return text


def _int(text: str) -> int:
    return int(text.replace("(integer)", "").strip())


def info(engine: Engine, target: Target, section: str) -> dict[str, str]:
    out = exec_text(engine, target.container, ["redis-cli", "INFO", section], target.env)
    return dict(
        line.split(":", 1) for line in out.splitlines() if ":" in line and not line.startswith("#")
    )


def rdb_path(engine: Engine, target: Target, item: Item | None) -> str:
    if item is not None and item.options.get("rdb_path"):
        return str(item.options["rdb_path"])
    d = exec_text(
        engine, target.container, ["redis-cli", "CONFIG", "GET", "dir"], target.env
    ).split()
    f = exec_text(
        engine, target.container, ["redis-cli", "CONFIG", "GET", "dbfilename"], target.env
    ).split()
    if len(d) < 2 or len(f) < 2:
        raise StrategyError(f"{target.container}: CONFIG GET dir/dbfilename answered nothing")
    return f"{d[1]}/{f[1]}"


def bgsave(engine: Engine, target: Target, timeout: float = 600) -> int:
    """BGSAVE and wait for it; returns the new LASTSAVE."""
    before = _int(cli(engine, target, "LASTSAVE"))
    now = int(cli(engine, target, "TIME").split()[1].strip('"'))
    if now <= before:
        time.sleep(1.1)  # LASTSAVE counts seconds: a save in the same second would not show
    answer = cli(engine, target, "BGSAVE")
    if "in progress" not in answer and "started" not in answer.lower():
        raise StrategyError(f"BGSAVE in {target.container}: {answer}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = _int(cli(engine, target, "LASTSAVE"))
        if last > before:
            status = info(engine, target, "persistence").get("rdb_last_bgsave_status", "")
            if status.strip() != "ok":
                raise StrategyError(f"BGSAVE in {target.container} failed ({status.strip()})")
            return last
        time.sleep(0.2)
    raise StrategyError(f"BGSAVE in {target.container}: not finished after {timeout:g}s")


def preflight(engine: Engine, item: Item) -> None:
    if cli(engine, source(engine, item), "PING") != "PONG":
        raise StrategyError(f"{item.key}: redis in {item.container} does not answer PING")


def parts(engine: Engine, item: Item) -> Iterator[Part]:
    t = source(engine, item)
    bgsave(engine, t, float(item.options.get("save_timeout_seconds", 600)))
    yield exec_part(engine, item, FILENAME, ["cat", rdb_path(engine, t, item)], user=t.user)


def observe(engine: Engine, target: Target, item: Item | None) -> dict[str, Any]:
    """Keys per database (INFO keyspace)."""
    keys: dict[str, int] = {}
    for db, value in info(engine, target, "keyspace").items():
        fields = dict(kv.split("=") for kv in value.strip().split(","))
        keys[db] = int(fields["keys"])
    return {"keys": keys}


def manifest(engine: Engine, item: Item) -> dict[str, Any]:
    t = source(engine, item)
    version = info(engine, t, "server").get("redis_version", "").strip()
    return {"image": image_of(engine, item.container), "version": version} | observe(
        engine, t, item
    )


def scratch(engine: Engine, image: str, labels: Mapping[str, str]) -> Target:
    """Created, not started: the RDB goes in before the server starts and loads it."""
    name = throwaway(
        engine,
        image,
        labels,
        command=["redis-server", "--dir", "/data", "--appendonly", "no", "--save", ""],
        start=False,
    )
    return Target(name, {})


def restore(engine: Engine, item: Item | None, target: Target, fetch: Fetch) -> None:
    """Into a created or stopped server: the RDB into its data directory, then start it."""
    state = engine.inspect(target.container)["State"]
    if state.get("Running"):
        raise StrategyError(f"{target.container}: stop Redis before its RDB is replaced")
    cmd = engine.inspect(target.container)["Config"].get("Cmd") or []
    if "--appendonly" in cmd and cmd[
        cmd.index("--appendonly") + 1 : cmd.index("--appendonly") + 2
    ] == ["yes"]:
        raise StrategyError(
            f"{target.container} runs with appendonly yes: move its appendonlydir away first "
            "(see docs/backup.md)"
        )
    path = str((item.options if item else {}).get("rdb_path", "/data/dump.rdb"))
    size, chunks = fetch(FILENAME)
    user = engine.inspect(target.container)["Config"].get("User") or "0"
    uid = int(user.split(":")[0]) if user.split(":")[0].isdigit() else 0
    put_stream(engine, target.container, path, size, chunks, uid=uid)
    engine.start(target.container)
    wait_until(
        lambda: cli(engine, target, "PING") == "PONG",
        60,
        f"Redis in {target.container}",
        engine,
        target.container,
    )
