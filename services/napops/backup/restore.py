"""Restores: a backup found by its manifest, put into a throwaway server (scratch, the drill)
or the live container, then compared with what the manifest recorded at dump time.

A backup is complete only when its manifest was stored (the last step of an item), so every
restore starts from a manifest snapshot: ``latest`` is the newest manifest of the service, or
a given snapshot id (of the manifest or of any part of the same run).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.dockerhost import Engine
from ..core.errors import NapopsError
from . import strategies
from .items import Item
from .restic import Restic, Snapshot
from .runner import MANIFEST
from .strategies import files as files_strategy
from .strategies.common import Target, remove_quietly, scratch_labels

log = logging.getLogger(__name__)


class RestoreError(NapopsError):
    pass


@dataclass
class Backup:
    """A complete backup of one item: its manifest document and where its parts are."""

    snapshot: Snapshot
    doc: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.doc['service']}/{self.doc['kind']}"

    @property
    def item(self) -> Item:
        d = self.doc
        return Item(d["service"], d["strategy"], d["container"], d["group"], d.get("options") or {})


def manifests(restic: Restic, env: str, service: str | None = None) -> list[Snapshot]:
    tags = {"env": env, "part": "manifest"}
    if service:
        tags["service"] = service
    return restic.snapshots(tags)


def find(restic: Restic, env: str, service: str | None, snapshot: str = "latest") -> list[Backup]:
    """The backups to restore: per (service, kind), the newest manifest, or the manifest of
    the run that ``snapshot`` belongs to."""
    snaps = manifests(restic, env, service)
    if snapshot != "latest":
        every = restic.snapshots({"env": env} | ({"service": service} if service else {}))
        chosen = [s for s in every if s.id.startswith(snapshot)]
        if not chosen:
            raise RestoreError(f"no snapshot {snapshot} of {service or 'any service'} in env {env}")
        run = chosen[0].tags.get("run")
        snaps = [s for s in snaps if s.tags.get("run") == run]
    newest: dict[tuple[str, str], Snapshot] = {}
    for s in snaps:  # oldest first: later ones win
        newest[(s.tags.get("service", ""), s.tags.get("kind", ""))] = s
    if not newest:
        raise RestoreError(
            f"no complete backup of {service or 'any service'} in env {env} (no manifest found)"
        )
    out = []
    for s in newest.values():
        path = s.paths[0] if s.paths else f"/{s.tags.get('service')}/{MANIFEST}"
        out.append(Backup(s, json.loads(restic.dump_bytes(s.id, path))))
    return out


def fetcher(restic: Restic, backup: Backup) -> Any:
    def fetch(filename: str) -> tuple[int, Iterable[bytes]]:
        part = backup.doc["parts"].get(filename)
        if part is None:
            raise RestoreError(f"{backup.key}: the backup has no part {filename}")
        path = f"/{backup.doc['service']}/{filename}"
        size = restic.file_size(part["snapshot"], path)
        return size, restic.dump_chunks(part["snapshot"], path)

    return fetch


def compare(expected: dict[str, Any], observed: dict[str, Any]) -> tuple[int, list[str]]:
    """(things compared, differences) between a manifest and what a restore shows."""
    compared, diffs = 0, []
    for section in ("tables", "keys", "collections", "indices", "newest"):
        want = expected.get(section)
        if want is None:
            continue
        got = observed.get(section) or {}
        for name, value in sorted(want.items()):
            compared += int(value) if isinstance(value, int) else 1
            if got.get(name) != value:
                diffs.append(f"{section} {name}: expected {value}, restored {got.get(name)}")
        for name in sorted(set(got) - set(want)):
            diffs.append(f"{section} {name}: restored but not in the manifest")
    return compared, diffs


@dataclass
class Outcome:
    key: str
    ok: bool
    to: str
    compared: int = 0
    differences: list[str] = field(default_factory=list)
    error: str | None = None
    duration_seconds: float = 0.0
    target: str | None = None
    snapshot: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _scratch_item(backup: Backup) -> Item:
    item = backup.item
    keep = {k: v for k, v in item.options.items() if k in ("newest", "paths", "rdb_path")}
    return Item(item.service, item.strategy, item.container, item.group, keep)


def to_scratch(
    engine: Engine,
    restic: Restic,
    backup: Backup,
    run_id: str,
    environment: str,
    keep: bool = False,
    sample: int = 20,
) -> Outcome:
    """Restore into a throwaway server of the recorded image and compare with the manifest
    (files: a sample restored from the repository, checksums compared). The server is
    labelled with ``run_id`` and ``environment`` (strategies.common.scratch_labels)."""
    started = time.monotonic()
    out = Outcome(backup.key, False, "scratch", snapshot=backup.snapshot.short_id)
    strategy = strategies.get(backup.doc["strategy"])
    manifest = backup.doc["manifest"]
    target: Target | None = None
    try:
        if backup.doc["strategy"] == "files" or (
            backup.doc["strategy"] == "gitea" and manifest.get("mode") != "dump"
        ):
            out.compared, out.differences = _files_sample(restic, backup, run_id, sample)
        elif backup.doc["strategy"] == "gitea" and manifest.get("mode") == "dump":
            _size, chunks = fetcher(restic, backup)("gitea-dump.tar.gz")
            facts = strategies.get("gitea").check_dump(chunks)
            out.compared = facts["entries"]
        elif backup.doc["strategy"] == "elasticsearch" and manifest.get("policy") == "reindex":
            out.compared = 0  # nothing stored: the index is rebuilt from its source
        elif hasattr(strategy, "scratch"):
            target = strategy.scratch(
                engine, manifest["image"], scratch_labels(run_id, environment)
            )
            strategy.restore(
                engine,
                _scratch_item(backup),
                target,
                fetcher(restic, backup),
                *([manifest.get("databases")] if backup.doc["strategy"] == "postgres" else []),
            )
            observed = strategy.observe(engine, target, _scratch_item(backup))
            out.compared, out.differences = compare(manifest, observed)
            out.target = target.container
        else:
            raise RestoreError(f"{backup.key}: no scratch restore for {backup.doc['strategy']}")
        out.ok = not out.differences
    except Exception as exc:  # noqa: BLE001 - reported as the item's outcome
        out.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, NapopsError) else str(exc)
    finally:
        if target is not None and not keep:
            remove_quietly(engine, target.container)
            out.target = None
    out.duration_seconds = time.monotonic() - started
    return out


def _files_sample(restic: Restic, backup: Backup, run_id: str, size: int) -> tuple[int, list[str]]:
    fetch = fetcher(restic, backup)
    compared, diffs = 0, []
    for filename, part in sorted(backup.doc["parts"].items()):
        listed = part.get("files") or {}
        wanted = set(files_strategy.sample(sorted(listed), size, run_id))
        _size, chunks = fetch(filename)
        result = files_strategy.verify_sample(listed, chunks, wanted)
        compared += result["checked"]
        diffs += [f"{filename}: {name} checksum differs" for name in result["mismatched"]]
    return compared, diffs


def to_live(engine: Engine, restic: Restic, backup: Backup, item: Item | None = None) -> Outcome:
    """Restore into the live container (``item`` as declared now, else as recorded), stopping
    and starting what the strategy needs; then compare with the manifest."""
    started = time.monotonic()
    item = item or backup.item
    out = Outcome(
        backup.key, False, "live", target=item.container, snapshot=backup.snapshot.short_id
    )
    strategy = strategies.get(item.strategy)
    try:
        fetch = fetcher(restic, backup)
        if item.strategy in ("mariadb", "postgres", "mongodb"):
            target = (
                strategy.source(engine, item)
                if hasattr(strategy, "source")
                else Target(item.container)
            )
            extra = [backup.doc["manifest"].get("databases")] if item.strategy == "postgres" else []
            strategy.restore(engine, item, target, fetch, *extra)
            out.compared, out.differences = compare(
                backup.doc["manifest"], strategy.observe(engine, target, item)
            )
        elif item.strategy == "redis":
            target = strategy.source(engine, item)
            engine.stop(item.container)
            strategy.restore(engine, item, target, fetch)
            out.compared, out.differences = compare(
                backup.doc["manifest"], strategy.observe(engine, target, item)
            )
        elif item.strategy in ("files", "gitea", "elasticsearch", "command"):
            hold = getattr(strategy, "hold", None)
            live = Item(
                item.service,
                item.strategy,
                item.container,
                item.group,
                dict(item.options) | {"stop": item.options.get("stop", True)},
            )
            with hold(engine, live) if hold else _Null():
                strategy.restore(engine, item, Target(item.container), fetch)
            if item.strategy == "files":
                out.compared = sum(len(p.get("files") or {}) for p in backup.doc["parts"].values())
        out.ok = not out.differences
    except Exception as exc:  # noqa: BLE001 - reported as the item's outcome
        out.error = str(exc) if isinstance(exc, NapopsError) else f"{type(exc).__name__}: {exc}"
    out.duration_seconds = time.monotonic() - started
    return out


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
