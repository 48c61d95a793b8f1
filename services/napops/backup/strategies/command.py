"""Generic: a declared command run in the container; its standard output is the backup.
Optional ``restore_argv`` gets the restored file's path appended (restore and drill)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...core.dockerhost import Engine
from ..items import Item
from .common import Fetch, Part, Target, exec_part, exec_text, put_stream


def validate(item: Item) -> list[str]:
    argv = item.options.get("argv")
    if not argv or not isinstance(argv, list):
        return [f"At '{item.key}.options.argv': the command (a list) is required"]
    return []


def filename(item: Item) -> str:
    return str(item.options.get("filename", f"{item.service}.out"))


def preflight(engine: Engine, item: Item) -> None:
    engine.inspect(item.container)


def parts(engine: Engine, item: Item) -> Iterator[Part]:
    yield exec_part(
        engine, item, filename(item), list(item.options["argv"]), user=item.options.get("exec_user")
    )


def manifest(engine: Engine, item: Item) -> dict[str, Any]:
    return {"argv": list(item.options["argv"])}


def restore(engine: Engine, item: Item, target: Target, fetch: Fetch) -> None:
    argv = item.options.get("restore_argv")
    if not argv:
        raise NotImplementedError(f"{item.key}: no restore_argv declared")
    size, chunks = fetch(filename(item))
    path = "/tmp/napops-restore"  # noqa: S108 - a path inside the container
    put_stream(engine, target.container, path, size, chunks)
    exec_text(engine, target.container, [*argv, path], target.env, item.options.get("exec_user"))
