"""Elasticsearch: declared per item as ``policy: snapshot`` (default) or ``policy: reindex``.

snapshot: an ``fs`` snapshot repository (``path.repo`` must include ``location``) is
registered if missing, a snapshot is taken with ``wait_for_completion=true`` through the
snapshot API (``curl`` inside the container, talking to localhost:9200), and the repository
directory is streamed out through the archive endpoint. Restore puts the directory back and
calls ``_restore``.

reindex: nothing is copied; the manifest records that the indices are rebuilt from the
source of truth (the backend re-indexes from MariaDB), and the DR report says so. NAP-DMS's
search index is derived data: the estate declares ``reindex`` (docs/backup.md).

Elasticsearch cannot run on the development machine: the API calls are unit-tested as built
and the answers parsed from recorded responses (tests/fixtures/backup)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ...core.dockerhost import Engine
from ..items import Item
from .common import Fetch, Part, StrategyError, Target, exec_text, put_tar
from .files import TarDigest

REPO = "napops"


def validate(item: Item) -> list[str]:
    policy = item.options.get("policy", "snapshot")
    if policy not in ("snapshot", "reindex"):
        return [f"At '{item.key}.options.policy': {policy!r} is not one of 'snapshot', 'reindex'"]
    if policy == "snapshot" and not item.options.get("location"):
        return [f"At '{item.key}.options.location': the snapshot repository path is required"]
    return []


def url(item: Item | None, path: str) -> str:
    base = (item.options if item else {}).get("url", "http://localhost:9200")
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def curl(method: str, target_url: str, body: dict[str, Any] | None = None) -> list[str]:
    argv = ["curl", "-sS", "--fail-with-body", "-X", method, "-H", "Content-Type: application/json"]
    if body is not None:
        argv += ["-d", json.dumps(body, separators=(",", ":"))]
    return [*argv, target_url]


def api(
    engine: Engine, container: str, method: str, target_url: str, body: dict[str, Any] | None = None
) -> Any:
    return json.loads(exec_text(engine, container, curl(method, target_url, body)) or "null")


def snapshot_state(answer: dict[str, Any]) -> str:
    """SUCCESS, PARTIAL, FAILED... from the answer of a snapshot taken with wait."""
    return str((answer.get("snapshot") or {}).get("state", "UNKNOWN"))


def preflight(engine: Engine, item: Item) -> None:
    if item.options.get("policy", "snapshot") == "snapshot":
        api(engine, item.container, "GET", url(item, "/_cluster/health"))


def parts(engine: Engine, item: Item) -> Iterator[Part]:
    if item.options.get("policy", "snapshot") == "reindex":
        return
    location = item.options["location"]
    api(
        engine,
        item.container,
        "PUT",
        url(item, f"/_snapshot/{REPO}"),
        {"type": "fs", "settings": {"location": location}},
    )
    name = f"napops-{item.options.get('run_id', 'snapshot')}".lower()
    answer = api(
        engine,
        item.container,
        "PUT",
        url(item, f"/_snapshot/{REPO}/{name}?wait_for_completion=true"),
        {"include_global_state": False},
    )
    state = snapshot_state(answer)
    if state != "SUCCESS":
        raise StrategyError(f"{item.key}: snapshot {name} ended {state}")
    stream, _ = engine.get_archive(item.container, location)
    digest = TarDigest(stream)
    yield Part("snapshot-repository.tar", digest, digest.check, {"snapshot": name})


def parse_indices(answer: list[dict[str, Any]]) -> dict[str, int]:
    """``_cat/indices?format=json&h=index,docs.count`` -> {index: docs}, hidden ones left out."""
    return {
        str(row["index"]): int(row.get("docs.count") or 0)
        for row in answer
        if not str(row["index"]).startswith(".")
    }


def manifest(engine: Engine, item: Item) -> dict[str, Any]:
    policy = item.options.get("policy", "snapshot")
    if policy == "reindex":
        return {
            "policy": "reindex",
            "note": str(item.options.get("note", "rebuilt from the source of truth")),
        }
    indices = api(
        engine, item.container, "GET", url(item, "/_cat/indices?format=json&h=index,docs.count")
    )
    return {"policy": "snapshot", "indices": parse_indices(indices)}


def restore(engine: Engine, item: Item, target: Target, fetch: Fetch) -> None:
    if item.options.get("policy", "snapshot") == "reindex":
        return
    location = str(item.options["location"]).rstrip("/")
    _size, chunks = fetch("snapshot-repository.tar")
    put_tar(engine, target.container, location.rsplit("/", 1)[0] or "/", chunks)
    snaps = api(engine, target.container, "GET", url(item, f"/_snapshot/{REPO}/_all"))
    names = [s["snapshot"] for s in snaps.get("snapshots", [])]
    if not names:
        raise StrategyError(f"{item.key}: no snapshot in the restored repository")
    api(
        engine,
        target.container,
        "POST",
        url(item, f"/_snapshot/{REPO}/{names[-1]}/_restore?wait_for_completion=true"),
        {"include_global_state": False},
    )
