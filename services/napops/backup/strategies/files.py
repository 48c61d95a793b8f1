"""Files: named volumes and bind mounts read through the engine's archive endpoint (the
container may be stopped for the duration, and is started again afterwards, failure or not).
Each path is one tar part; while it streams to restic, a reader thread hashes every member,
so the manifest holds the size and SHA-256 of every file without a second read. The drill
restores a sample of the files and compares checksums."""

from __future__ import annotations

import hashlib
import os
import tarfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ...core.dockerhost import Engine
from ..items import Item
from .common import Fetch, Part, StrategyError, Target, put_tar


def validate(item: Item) -> list[str]:
    paths = item.options.get("paths")
    if not paths:
        return [f"At '{item.key}.options.paths': at least one path is needed"]
    return [
        f"At '{item.key}.options.paths': {p!r} must be absolute"
        for p in paths
        if not str(p).startswith("/")
    ]


def filename(path: str) -> str:
    return "files" + ("/" + path.strip("/") if path.strip("/") else "/root") + ".tar"


def preflight(engine: Engine, item: Item) -> None:
    engine.inspect(item.container)  # DockerError naming it when it does not exist


@contextmanager
def hold(engine: Engine, item: Item, log: Any = None) -> Iterator[None]:
    """Stop the owning container when declared (``stop: true``); always start it again."""
    if not item.options.get("stop"):
        yield
        return
    was_running = bool(engine.inspect(item.container)["State"].get("Running"))
    if was_running:
        engine.stop(item.container, timeout=int(item.options.get("stop_timeout_seconds", 30)))
    try:
        yield
    finally:
        if was_running:
            engine.start(item.container)
            if log is not None:
                log.info("%s started again after its backup", item.container)


class TarDigest:
    """Pass a tar stream through unchanged while a thread hashes its members."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = chunks
        self.files: dict[str, dict[str, Any]] = {}
        self.error: BaseException | None = None
        self._r, self._w = os.pipe()
        self._thread = threading.Thread(target=self._digest, daemon=True, name="tar-digest")

    def _digest(self) -> None:
        try:
            with os.fdopen(self._r, "rb") as fh, tarfile.open(fileobj=fh, mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    h = hashlib.sha256()
                    src = tar.extractfile(member)
                    assert src is not None
                    while block := src.read(1 << 20):
                        h.update(block)
                    self.files[member.name] = {"size": member.size, "sha256": h.hexdigest()}
                for _ in iter(lambda: fh.read(1 << 16), b""):
                    pass  # the end-of-archive padding
        except BaseException as exc:  # noqa: BLE001 - reported by check()
            self.error = exc

    def __iter__(self) -> Iterator[bytes]:
        self._thread.start()
        w = os.fdopen(self._w, "wb")
        try:
            for chunk in self._chunks:
                yield chunk
                try:
                    w.write(chunk)
                except BrokenPipeError:
                    pass  # the reader failed; check() says why
        finally:
            try:
                w.close()
            except BrokenPipeError:
                pass
            self._thread.join()

    def check(self) -> None:
        if self.error is not None:
            raise StrategyError(f"the archive could not be read: {self.error}")


def parts(engine: Engine, item: Item) -> Iterator[Part]:
    for path in item.options["paths"]:
        stream, _stat = engine.get_archive(item.container, path)
        digest = TarDigest(stream)
        part = Part(filename(path), digest, digest.check)
        part.facts["files"] = digest.files
        yield part


def manifest(engine: Engine, item: Item) -> dict[str, Any]:
    return {"paths": list(item.options["paths"])}


def sample(names: list[str], size: int, seed: str) -> list[str]:
    """A deterministic sample of ``size`` names that rotates with ``seed``."""
    ranked = sorted(names, key=lambda n: hashlib.sha256((seed + n).encode()).hexdigest())
    return sorted(ranked[:size])


def verify_sample(
    files: dict[str, dict[str, Any]], chunks: Iterable[bytes], wanted: set[str]
) -> dict[str, Any]:
    """Read a restored tar stream; hash the ``wanted`` members; compare with ``files``."""
    reader = TarDigest(chunks)
    for _ in reader:
        pass
    reader.check()
    mismatched = [
        n for n in sorted(wanted) if reader.files.get(n, {}).get("sha256") != files[n]["sha256"]
    ]
    return {"checked": len(wanted), "mismatched": mismatched}


def restore(engine: Engine, item: Item, target: Target, fetch: Fetch) -> None:
    """Unpack each path's archive into its parent directory in the target container."""
    for path in item.options["paths"]:
        _size, chunks = fetch(filename(path))
        put_tar(engine, target.container, os.path.dirname(path.rstrip("/")) or "/", chunks)
