"""Gitea: ``gitea dump --file - --type tar.gz --skip-db`` streamed out of the container
(its database is backed up by the database strategy; ``--skip-db`` exists since Gitea 1.22),
run as the container's user with its ``app.ini``. Declared ``mode: volume`` instead backs up
the data paths as files with Gitea stopped for the duration (see the files strategy).

Gitea cannot run on the development machine: the command is unit-tested as built, and the
drill's archive check against a generated dump-shaped archive."""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ...core.dockerhost import Engine
from ..items import Item
from . import files
from .common import Fetch, Part, StrategyError, Target, exec_part, exec_text


def validate(item: Item) -> list[str]:
    mode = item.options.get("mode", "dump")
    if mode not in ("dump", "volume"):
        return [f"At '{item.key}.options.mode': {mode!r} is not one of 'dump', 'volume'"]
    if mode == "volume":
        return files.validate(item)
    return []


def dump_argv(item: Item) -> list[str]:
    return [
        "gitea",
        "dump",
        "--config",
        str(item.options.get("config", "/etc/gitea/app.ini")),
        "--file",
        "-",
        "--type",
        "tar.gz",
        "--skip-db",
        "--skip-log",
        "--quiet",
    ]


def preflight(engine: Engine, item: Item) -> None:
    if item.options.get("mode", "dump") == "dump":
        exec_text(engine, item.container, ["gitea", "--version"])
    else:
        files.preflight(engine, item)


@contextmanager
def hold(engine: Engine, item: Item, log: Any = None) -> Iterator[None]:
    if item.options.get("mode", "dump") == "volume":
        with files.hold(
            engine,
            item.__class__(**{**item.__dict__, "options": {**item.options, "stop": True}}),
            log,
        ):
            yield
    else:
        yield


def parts(engine: Engine, item: Item) -> Iterator[Part]:
    if item.options.get("mode", "dump") == "volume":
        yield from files.parts(engine, item)
        return
    yield exec_part(engine, item, "gitea-dump.tar.gz", dump_argv(item))


def manifest(engine: Engine, item: Item) -> dict[str, Any]:
    if item.options.get("mode", "dump") == "volume":
        return files.manifest(engine, item)
    version = exec_text(engine, item.container, ["gitea", "--version"]).strip()
    return {"mode": "dump", "version": version}


def check_dump(chunks: Iterable[bytes]) -> dict[str, Any]:
    """Read a ``gitea dump`` tar.gz to its end: every member readable, app.ini and the
    repositories present. Returns counts; raises StrategyError."""
    data = b"".join(chunks)
    names: list[str] = []
    try:
        with tarfile.open(
            fileobj=gzip.GzipFile(fileobj=__import__("io").BytesIO(data)), mode="r|"
        ) as tar:
            for member in tar:
                names.append(member.name)
                if member.isfile():
                    fh = tar.extractfile(member)
                    assert fh is not None
                    while fh.read(1 << 20):
                        pass
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise StrategyError(f"gitea dump archive unreadable: {exc}") from None
    if "app.ini" not in {n.rsplit("/", 1)[-1] for n in names}:
        raise StrategyError("gitea dump archive has no app.ini")
    repos = [n for n in names if n.startswith("repos/") and n.endswith(".git")]
    return {"entries": len(names), "repositories": len(repos)}


def restore(engine: Engine, item: Item, target: Target, fetch: Fetch) -> None:
    if item.options.get("mode", "dump") == "volume":
        files.restore(engine, item, target, fetch)
        return
    raise NotImplementedError(
        "a gitea dump is restored by hand (docs/runbooks/disaster-recovery.md, Gitea)"
    )
