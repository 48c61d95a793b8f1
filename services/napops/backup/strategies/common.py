"""What the strategies share: parts (a named stream plus the check of its producer), secrets
read without putting them on a command line, exec with an exit-status check, streaming a file
into a container, and throwaway containers for restore drills."""

from __future__ import annotations

import io
import os
import secrets
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...core.dockerhost import DockerError, Engine
from ...core.errors import NapopsError
from ..items import Item

SCRATCH_LABEL = "napops.backup.scratch"  # value: the run that made it
ENVIRONMENT_LABEL = "napops.backup.environment"


def scratch_labels(run_id: str, environment: str) -> dict[str, str]:
    """The labels of a scratch container: the run that made it and its environment, so that
    `docker ps --filter label=napops.backup.environment=prod` finds prod's (a kept one too)."""
    return {SCRATCH_LABEL: run_id, ENVIRONMENT_LABEL: environment}


class StrategyError(NapopsError):
    """A strategy cannot back up or restore an item; the message says which and why."""


@dataclass
class Part:
    """One stream of an item: its file name in the repository, its chunks, and ``check``,
    called after the chunks are consumed, which raises when the producer failed (a dump that
    exited non-zero fails the item even though restic stored what it received)."""

    filename: str
    chunks: Iterable[bytes]
    check: Callable[[], None] = lambda: None
    facts: dict[str, Any] = field(default_factory=dict)  # filled while streaming (checksums)


@dataclass(frozen=True)
class Target:
    """A container to read from or restore into, with the exec environment that logs in."""

    container: str
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None


Fetch = Callable[[str], tuple[int, Iterable[bytes]]]
"""fetch(filename) -> (size, chunks) of a part of the snapshot being restored."""


def newest_problems(item: Item, shape: str) -> list[str]:
    """The ``newest`` option's keys that are not of ``shape`` (dot-separated, e.g.
    ``database.table``): one ``At '...'`` line each."""
    newest = item.options.get("newest") or {}
    return [
        f"At '{item.key}.options.newest': {table!r} must be {shape}"
        for table in newest
        if table.count(".") != shape.count(".")
    ]


def exec_part(engine: Engine, item: Item, filename: str, argv: list[str], **kw: Any) -> Part:
    stream = engine.exec_stream(item.container, argv, **kw)
    return Part(filename, stream, stream.check)


def exec_text(
    engine: Engine,
    container: str,
    argv: list[str],
    environment: Mapping[str, str] | None = None,
    user: str | None = None,
) -> str:
    """Run ``argv`` in ``container``; its standard output, or StrategyError with stderr."""
    res = engine.exec_run(container, argv, user=user, environment=environment)
    if res.exit_code != 0:
        last = (res.stderr.strip().splitlines() or [""])[-1]
        raise StrategyError(f"{argv[0]} in {container}: exit status {res.exit_code}: {last}")
    return res.stdout.decode("utf-8", "replace")


def container_env(engine: Engine, container: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in engine.inspect(container)["Config"].get("Env") or []:
        key, _, value = entry.partition("=")
        env[key] = value
    return env


def secret(engine: Engine, item: Item, default_env: str | None) -> str | None:
    """The item's password: ``password_file`` (a file the sidecar reads), else
    ``password_container_file`` (a file in the container, read with ``cat``), else the variable
    ``password_env`` (default ``default_env``) of the container's own environment."""
    path = item.options.get("password_file")
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().rstrip("\r\n")
        except OSError as exc:
            raise StrategyError(
                f"{item.key}: cannot read password file {path}: {exc.strerror}"
            ) from None
    inside = item.options.get("password_container_file")
    if inside:  # a secret file of the container itself (MARIADB_ROOT_PASSWORD_FILE...)
        return exec_text(engine, item.container, ["cat", str(inside)]).rstrip("\r\n")
    name = item.options.get("password_env", default_env)
    if not name:
        return None
    return container_env(engine, item.container).get(name)


def image_of(engine: Engine, container: str) -> str:
    return str(engine.inspect(container)["Config"]["Image"])


def tar_one(
    name: str, size: int, chunks: Iterable[bytes], mode: int = 0o644, uid: int = 0
) -> Iterator[bytes]:
    """A tar stream of one file ``name`` of ``size`` bytes from ``chunks`` (nothing buffered
    beyond a chunk)."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.uid, info.gid = size, mode, int(time.time()), uid, uid
    yield info.tobuf(format=tarfile.GNU_FORMAT)
    sent = 0
    for chunk in chunks:
        sent += len(chunk)
        yield chunk
    if sent != size:
        raise StrategyError(f"{name}: expected {size} bytes, the stream had {sent}")
    pad = (512 - size % 512) % 512
    yield b"\0" * pad + b"\0" * 1024


def put_stream(
    engine: Engine, container: str, path: str, size: int, chunks: Iterable[bytes], uid: int = 0
) -> None:
    """Write a stream of known size to ``path`` in ``container`` (created or stopped ones too)."""
    directory, name = os.path.split(path)
    ok = engine._call(  # noqa: SLF001 - the engine's error mapping, with a streamed body
        f"copy to {container}:{path}",
        engine.api.put_archive,
        container,
        directory or "/",
        tar_one(name, size, chunks, uid=uid),
    )
    if not ok:
        raise DockerError(f"copy to {container}:{path}: the engine refused the archive")


def put_tar(engine: Engine, container: str, directory: str, chunks: Iterable[bytes]) -> None:
    """Unpack a tar stream into ``directory`` of ``container``."""
    ok = engine._call(  # noqa: SLF001
        f"copy to {container}:{directory}", engine.api.put_archive, container, directory, chunks
    )
    if not ok:
        raise DockerError(f"copy to {container}:{directory}: the engine refused the archive")


def throwaway(
    engine: Engine,
    image: str,
    labels: Mapping[str, str],
    environment: Mapping[str, str] | None = None,
    command: list[str] | None = None,
    start: bool = True,
    name_prefix: str = "napops-scratch",
) -> str:
    """Create (and start) a container of ``image`` with no volumes of the estate, labelled as
    scratch (:func:`scratch_labels`); returns its name. The caller removes it
    (:func:`remove_quietly`)."""
    name = f"{name_prefix}-{secrets.token_hex(4)}"
    try:
        engine.client.containers.create(
            image,
            command=command,
            name=name,
            environment=dict(environment or {}),
            labels=dict(labels),
            detach=True,
        )
    except Exception as exc:  # noqa: BLE001 - docker-py raises several kinds
        raise StrategyError(f"cannot create a scratch container of {image}: {exc}") from None
    if start:
        engine.start(name)
    return name


def remove_quietly(engine: Engine, name: str) -> None:
    """Remove a scratch container with its anonymous volumes."""
    try:
        engine._call(  # noqa: SLF001 - with v=True, which Engine.remove does not pass
            f"remove {name}", engine.api.remove_container, name, force=True, v=True
        )
    except DockerError:
        pass


def wait_until(
    probe: Callable[[], bool],
    timeout: float,
    what: str,
    engine: Engine | None = None,
    container: str | None = None,
) -> None:
    """Poll ``probe`` until it is true. With ``engine`` and ``container``, a container that
    exits meanwhile fails at once with its status and the end of its log (a server that
    cannot start is not waited for until the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except (DockerError, StrategyError):
            pass
        if engine is not None and container is not None:
            _fail_if_exited(engine, container, what)
        time.sleep(0.5)
    raise StrategyError(f"timed out after {timeout:g}s waiting for {what}")


def _fail_if_exited(engine: Engine, container: str, what: str) -> None:
    try:
        state = engine.inspect(container).get("State") or {}
    except DockerError:
        return  # unknown: the probe and the deadline decide
    if state.get("Running", True):
        return
    try:
        tail = engine.api.logs(container, tail=15).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - the log is a courtesy
        tail = ""
    raise StrategyError(
        f"{what}: the container exited (status {state.get('ExitCode')}) before it was ready"
        + (f"; its last output: {tail[-800:]}" if tail else "")
    )


def token() -> str:
    return secrets.token_urlsafe(18)


def tar_members(chunks: Iterable[bytes]) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    """(member, content) of a small tar held in memory (tests and manifests of small parts)."""
    data = b"".join(chunks)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            fh = tar.extractfile(member) if member.isfile() else None
            yield member, fh.read() if fh else None
