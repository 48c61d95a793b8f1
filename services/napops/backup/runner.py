"""The backup run: items with bounded parallelism, each succeeding or failing alone.

Before anything runs: the repository answers with the password (else the run fails with the
reason), free space is measured and exported (below the floor the run is refused), and stale
restic locks (holder dead) are removed by ``restic unlock``, which leaves a live holder's lock
alone. Each item: its manifest, then each part streamed from the container into
``restic backup --stdin`` (both exit statuses checked), then the manifest stored beside the
parts. A restic failure that looks like an unreachable or locked repository is retried with
backoff; then the item fails with the reason. Retention (``forget --prune``) runs only after
a run without failures.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..core.dockerhost import DockerError, Engine
from ..core.errors import NapopsError
from . import strategies
from .items import Item
from .progress import ByteProgress
from .restic import Restic, ResticError
from .state import State
from .strategies.common import StrategyError

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


class RunRefused(NapopsError):
    """The run cannot start (repository, password, space, declarations); nothing ran."""


@dataclass
class ItemResult:
    service: str
    kind: str
    ok: bool = False
    error: str | None = None
    started: float = 0.0
    finished: float = 0.0
    duration_seconds: float = 0.0
    bytes_processed: int = 0
    bytes_added: int = 0
    files: int = 0
    attempts: int = 0
    manifest_snapshot: str | None = None
    parts: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.service}/{self.kind}"

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class Settings:
    environment: str
    parallelism: int = 2
    attempts: int = 3
    backoff_seconds: float = 5.0
    min_free_bytes: int = 0
    retention: dict[str, int] = field(
        default_factory=lambda: {"daily": 30, "weekly": 4, "monthly": 6}
    )
    prune: bool = True


def free_space(repository: str) -> dict[str, float] | None:
    """Free and total bytes of a local repository's filesystem (None for remote ones)."""
    if "://" in repository or ":" in repository.split("/")[0]:
        return None
    st = os.statvfs(repository)
    return {"free_bytes": st.f_bavail * st.f_frsize, "capacity_bytes": st.f_blocks * st.f_frsize}


def remove_stale_locks(restic: Restic, logger: Any = log) -> dict[str, Any]:
    """Let ``restic unlock`` remove stale locks; report what went and what stays."""
    before = restic.locks()
    if not before:
        return {"removed": [], "kept": []}
    restic.unlock()
    after = {lk.id for lk in restic.locks()}
    removed = [lk for lk in before if lk.id not in after]
    kept = [lk for lk in before if lk.id in after]
    for lk in removed:
        logger.warning(
            "removed a stale restic lock %s (pid %s on %s, since %s)",
            lk.id[:8],
            lk.pid,
            lk.hostname,
            lk.time,
            extra={"event": "backup_stale_lock_removed", "lock": lk.id, "pid": lk.pid},
        )
    for lk in kept:
        logger.info(
            "restic lock %s is held by a live process (pid %s on %s): left alone",
            lk.id[:8],
            lk.pid,
            lk.hostname,
            extra={"event": "backup_lock_kept", "lock": lk.id, "pid": lk.pid},
        )
    return {"removed": [lk.id for lk in removed], "kept": [lk.id for lk in kept]}


class Runner:
    def __init__(
        self,
        engine: Engine,
        restic: Restic,
        state: State,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        self.engine, self.restic, self.state, self.settings = engine, restic, state, settings
        self.sleep, self.clock = sleep, clock
        self._discards: list[str] = []
        self._discards_lock = threading.Lock()
        self._bytes = ByteProgress(None)  # replaced by each run

    # -- before the run ----------------------------------------------------------------------
    def check(self, items: Iterable[Item]) -> None:
        """Raise RunRefused listing every static problem; checks the repository."""
        problems: list[str] = []
        for item in items:
            problems += strategies.get(item.strategy).validate(item)
        if problems:
            raise RunRefused("invalid backup declarations:\n" + "\n".join(problems))
        try:
            self.restic.preflight()
        except ResticError as exc:
            raise RunRefused(str(exc)) from None

    def preflight(self, items: Iterable[Item]) -> dict[str, str]:
        """Ask every item's server before anything runs. A declaration the server
        contradicts (a missing database, refused credentials) refuses the whole run; a
        container or engine that does not answer fails only that item (returned)."""
        problems: list[str] = []
        unavailable: dict[str, str] = {}
        for item in items:
            try:
                strategies.get(item.strategy).preflight(self.engine, item)
            except StrategyError as exc:
                problems.append(f"At '{item.key}': {exc}")
            except DockerError as exc:
                unavailable[item.key] = f"not reachable before the run: {exc}"
        if problems:
            raise RunRefused("the servers contradict the declarations:\n" + "\n".join(problems))
        return unavailable

    def measure(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"checked": self.clock()}
        space = free_space(self.restic.repository)
        if space:
            facts.update(space)
        try:
            facts["size_bytes"] = int(self.restic.stats().get("total_size", 0))
        except ResticError as exc:
            log.warning("repository size unknown: %s", exc)
        self.state.repository(facts)
        return facts

    # -- the run -----------------------------------------------------------------------------
    def run(
        self,
        items: list[Item],
        run_id: str,
        run_log: Any = log,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        prune: bool = True,
        progress_bytes: Callable[[int, int | None], None] | None = None,
    ) -> dict[str, Any]:
        self.check(items)
        facts = self.measure()
        if "free_bytes" in facts and facts["free_bytes"] < self.settings.min_free_bytes:
            raise RunRefused(
                f"the repository has {facts['free_bytes'] / 2**30:.1f} GiB free, less than the "
                f"{self.settings.min_free_bytes / 2**30:.1f} GiB floor: no backup started"
            )
        unavailable = self.preflight(items)
        locks = remove_stale_locks(self.restic, run_log)
        if locks["removed"]:
            removed = len(locks["removed"])
            self.state.update(
                lambda d: d["repository"].__setitem__(
                    "stale_locks_removed", d["repository"].get("stale_locks_removed", 0) + removed
                )
            )
        done = 0
        results: list[ItemResult] = []
        self._bytes = ByteProgress(progress_bytes)
        if progress:
            progress(0, len(items))
        with ThreadPoolExecutor(
            max_workers=max(1, self.settings.parallelism), thread_name_prefix="backup-item"
        ) as pool:
            futures = [
                pool.submit(
                    self._guarded, item, run_id, run_log, should_stop, unavailable.get(item.key)
                )
                for item in items
            ]
            for fut in futures:
                results.append(fut.result())
                done += 1
                if progress:
                    progress(done, len(items))
        self._flush_discards(run_log)
        failed = [r.key for r in results if not r.ok]
        summary: dict[str, Any] = {
            "items": len(results),
            "succeeded": [r.key for r in results if r.ok],
            "failed": failed,
            "errors": {r.key: r.error for r in results if not r.ok},
            "bytes_processed": sum(r.bytes_processed for r in results),
            "bytes_added": sum(r.bytes_added for r in results),
            "stale_locks_removed": len(locks["removed"]),
            "pruned": False,
        }
        if not failed and prune and self.settings.prune and results:
            r = self.settings.retention
            try:
                self.restic.forget_prune(r["daily"], r["weekly"], r["monthly"])
                summary["pruned"] = True
            except ResticError as exc:
                summary["failed"] = ["retention"]
                summary["errors"] = {"retention": str(exc)}
        elif failed:
            run_log.warning("retention skipped: %d item(s) failed", len(failed))
        self.measure()
        return summary

    def _guarded(
        self,
        item: Item,
        run_id: str,
        run_log: Any,
        should_stop: Callable[[], bool],
        unavailable: str | None = None,
    ) -> ItemResult:
        result = ItemResult(item.service, item.kind, started=self.clock())
        if should_stop():
            result.error = "not started: shutting down"
        elif unavailable:
            result.error = unavailable
        else:
            try:
                self._item(item, run_id, result, run_log)
            except Exception as exc:  # noqa: BLE001 - one item's failure never stops the others
                result.ok, result.error = False, _reason(exc)
        result.finished = self.clock()
        result.duration_seconds = result.finished - result.started
        level = logging.INFO if result.ok else logging.ERROR
        run_log.log(
            level,
            "backup of %s %s%s",
            item.key,
            "succeeded" if result.ok else "failed",
            "" if result.ok else f": {result.error}",
            extra={
                "event": "backup_item",
                "service": item.service,
                "kind": item.kind,
                "ok": result.ok,
                "bytes_processed": result.bytes_processed,
                "bytes_added": result.bytes_added,
            },
        )
        self.state.item(item.key, result.as_dict())
        return result

    def _item(self, item: Item, run_id: str, result: ItemResult, run_log: Any) -> None:
        strategy = strategies.get(item.strategy)
        tags = {
            "service": item.service,
            "kind": item.kind,
            "env": self.settings.environment,
            "run": run_id,
        }
        last: Exception | None = None
        for attempt in range(1, self.settings.attempts + 1):
            result.attempts = attempt
            stored: list[str] = []
            try:
                self._once(item, strategy, tags, result, stored, run_id, run_log)
                result.ok, result.error = True, None
                return
            except ResticError as exc:
                last = exc
                self._discard(stored)
                if not (exc.unreachable or exc.locked) or attempt == self.settings.attempts:
                    break
                wait = self.settings.backoff_seconds * 2 ** (attempt - 1)
                run_log.warning(
                    "%s: repository problem (%s); retry %d of %d in %.0fs",
                    item.key,
                    exc,
                    attempt,
                    self.settings.attempts - 1,
                    wait,
                    extra={"event": "backup_retry", "service": item.service, "kind": item.kind},
                )
                self.sleep(wait)
            except Exception:
                self._discard(stored)
                raise
        assert last is not None
        if isinstance(last, ResticError) and last.unreachable:
            raise ResticError(
                f"repository unreachable after {result.attempts} attempt(s): {last}",
                last.code,
                last.stderr,
            )
        raise last

    def _once(
        self,
        item: Item,
        strategy: Any,
        tags: dict[str, str],
        result: ItemResult,
        stored: list[str],
        run_id: str,
        run_log: Any,
    ) -> None:
        result.bytes_processed = result.bytes_added = result.files = 0
        result.parts = {}
        hold = getattr(strategy, "hold", None)
        opts = dict(item.options) | {"run_id": run_id}
        item = Item(item.service, item.strategy, item.container, item.group, opts, item.source)
        with hold(self.engine, item, run_log) if hold else _null():
            manifest = strategy.manifest(self.engine, item)
            for part in strategy.parts(self.engine, item):
                stream = f"{item.key}/{part.filename}"
                try:
                    summary = self.restic.backup_stdin(
                        f"{item.service}/{part.filename}",
                        part.chunks,
                        tags,
                        on_progress=functools.partial(self._bytes.status, stream),
                    )
                except BaseException:
                    self._bytes.abandoned(stream)
                    raise
                self._bytes.finished(stream, summary.bytes_processed)
                stored.append(summary.snapshot_id)
                part.check()  # the dump's own exit status: a failed dump fails the item
                result.bytes_processed += summary.bytes_processed
                result.bytes_added += summary.bytes_added
                result.files += 1
                result.parts[part.filename] = {
                    "snapshot": summary.snapshot_id,
                    "bytes": summary.bytes_processed,
                    **part.facts,
                }
        doc = {
            "service": item.service,
            "kind": item.kind,
            "strategy": item.strategy,
            "group": item.group,
            "environment": self.settings.environment,
            "run": run_id,
            "container": item.container,
            "options": dict(item.options),  # names of secrets (paths, variables), never values
            "created": self.clock(),
            "parts": result.parts,
            "manifest": manifest,
        }
        body = json.dumps(doc, sort_keys=True).encode()
        summary = self.restic.backup_stdin(
            f"{item.service}/{MANIFEST}", [body], tags | {"part": "manifest"}
        )
        result.manifest_snapshot = summary.snapshot_id
        result.bytes_added += summary.bytes_added

    def _discard(self, snapshot_ids: list[str]) -> None:
        """Mark the parts of a failed attempt to be forgotten once every item of the run has
        finished, so that retention never keeps a partial dump in place of a good one (restore
        goes by manifest, so they are never used). Not at once: ``forget`` needs the exclusive
        lock, which the other items' backups running beside it hold."""
        with self._discards_lock:
            self._discards.extend(snapshot_ids)

    def _flush_discards(self, run_log: Any) -> None:
        with self._discards_lock:
            ids, self._discards = self._discards, []
        if not ids:
            return
        for attempt in range(1, self.settings.attempts + 1):
            try:
                self.restic.call("forget", *ids)
                return
            except ResticError as exc:
                if not exc.locked or attempt == self.settings.attempts:
                    run_log.warning(
                        "could not forget the parts of failed attempts %s: %s", ids, exc
                    )
                    return
                self.sleep(self.settings.backoff_seconds * 2 ** (attempt - 1))


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (ResticError, StrategyError, DockerError, NapopsError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
