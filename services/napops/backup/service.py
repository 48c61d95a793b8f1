"""The backup sidecar's work, wired from its configuration: the backup, verify and drill jobs,
restores, and the disaster-recovery restore. Jobs hold the ``backup-repository`` lock, so a
CLI run and a scheduled run (or two jobs) never use the repository at the same time."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from typing import Any

from ..core import sidecar
from ..core.dockerhost import COMPOSE_PROJECT, Engine
from ..core.jobs import RunContext
from ..core.locks import Locks
from . import restore as restoremod
from .items import RESTORE_ORDER, Item, PlanError, plan, project_matches, projects
from .restic import Restic, ResticError
from .runner import Runner, RunRefused, Settings
from .state import State

LOCK = "backup-repository"


class BackupService:
    def __init__(
        self,
        section: dict[str, Any],
        engine: Engine,
        locks: Locks,
        state_dir: str,
        audit: Any = None,
    ):
        self.section, self.engine, self.locks, self.audit = section, engine, locks, audit
        self.state = State(os.path.join(state_dir, "backup-state.json"))
        self.restic = Restic(
            section["repository"],
            section["password_file"],
            section["restic_binary"],
            section["timeout_seconds"],
            section["cache_dir"],
        )
        r = section["retention"]
        self.settings = Settings(
            environment=section["environment"],
            parallelism=section["parallelism"],
            attempts=section["retry"]["attempts"],
            backoff_seconds=section["retry"]["backoff_seconds"],
            min_free_bytes=section["min_free_bytes"],
            retention={"daily": r["daily"], "weekly": r["weekly"], "monthly": r["monthly"]},
            prune=r["enabled"],
        )
        self.runner = Runner(engine, self.restic, self.state, self.settings)
        self.only_service: str | None = None

    @classmethod
    def from_context(cls, ctx: sidecar.Context) -> BackupService:
        return cls(ctx.section, ctx.engine(), ctx.locks, ctx.config["state_dir"], ctx.audit)

    # -- what to back up ---------------------------------------------------------------------
    def items(self, group: str | None = None, service: str | None = None) -> list[Item]:
        containers: list[tuple[str, dict[str, str]]] = []
        if self.section["labels"]:
            for c in self.engine.containers(labels={"napops.backup.strategy": None}):
                containers.append((c.name, dict(c.labels)))
        configured = [self._resolve(dict(entry)) for entry in self.section["items"]]
        found = plan(configured, containers, self.section["labels"])
        chosen = [
            i
            for i in found
            if (group is None or i.group == group) and (service is None or i.service == service)
        ]
        if service is not None and not chosen:
            known = ", ".join(sorted({i.service for i in found})) or "none"
            raise RunRefused(f"no backup item for service {service!r} (declared: {known})")
        return chosen

    def _resolve(self, entry: dict[str, Any]) -> dict[str, Any]:
        """``container: compose:<service>`` names the one running container of that Compose
        service in the projects ``compose_project`` names (comma-separated globs, e.g.
        ``napops-prod-*``: every stack of prod; empty: any project), so one configuration
        serves every environment."""
        name = str(entry.get("container", ""))
        if name.startswith("compose:"):
            service = name[len("compose:") :]
            patterns = projects(self.section.get("compose_project") or "")
            found = [
                c
                for c in self.engine.containers(service=service)
                if project_matches(c.labels.get(COMPOSE_PROJECT, ""), patterns)
            ]
            if len(found) != 1:
                where = f"project {', '.join(patterns)}" if patterns else "any project"
                names = f": {', '.join(sorted(c.name for c in found))}" if found else ""
                raise PlanError(
                    [
                        f"At 'backup.items ({entry.get('service')})': {len(found)} running "
                        f"containers of Compose service {service!r} in {where} (need exactly "
                        f"one){names}"
                    ]
                )
            entry["container"] = found[0].name
        return entry

    # -- jobs --------------------------------------------------------------------------------
    def backup_job(self, group: str | None) -> Callable[[RunContext], dict[str, Any]]:
        def job(run: RunContext) -> dict[str, Any]:
            with self.locks.hold(LOCK, run.run_id, self.section["lock_wait_seconds"]):
                try:
                    items = self.items(group, self.only_service)
                except PlanError as exc:
                    raise RunRefused(
                        "invalid backup declarations:\n" + "\n".join(exc.problems)
                    ) from None
                if not items:
                    return {"items": 0, "note": f"nothing declared for {group or 'any group'}"}
                return self.runner.run(
                    items,
                    run.run_id,
                    run.log,
                    progress=lambda done, total: run.progress(done, total, "items"),
                    should_stop=run.should_stop,
                    progress_bytes=run.progress_bytes,
                )

        return job

    def verify_job(self, full: bool) -> Callable[[RunContext], dict[str, Any]]:
        def job(run: RunContext) -> dict[str, Any]:
            with self.locks.hold(LOCK, run.run_id, self.section["lock_wait_seconds"]):
                return self.verify(full)

        return job

    def verify(self, full: bool, today: datetime.date | None = None) -> dict[str, Any]:
        n = self.section["verify_subsets"]
        day = (today or datetime.date.today()).toordinal()
        subset = "100%" if full else f"{day % n + 1}/{n}"
        mode = "full" if full else "subset"
        started = time.time()
        try:
            last = self.restic.check(subset)
            result = {"ok": True, "subset": subset, "message": last}
        except ResticError as exc:
            result = {"ok": False, "subset": subset, "message": str(exc)}
        result |= {"finished": time.time(), "duration_seconds": time.time() - started}
        self.state.update(lambda d: d["verify"].__setitem__(mode, result))
        out = {"subset": subset, "message": result["message"]}
        if not result["ok"]:
            out["failed"] = [f"check {subset}"]
        return out

    def drill_job(self) -> Callable[[RunContext], dict[str, Any]]:
        def job(run: RunContext) -> dict[str, Any]:
            with self.locks.hold(LOCK, run.run_id, self.section["lock_wait_seconds"]):
                return self.drill(run.run_id, run.progress, run.check_stop)

        return job

    def drill(
        self, run_id: str, progress: Any = None, check_stop: Any = None, service: str | None = None
    ) -> dict[str, Any]:
        backups = restoremod.find(self.restic, self.settings.environment, service)
        outcomes = []
        for i, backup in enumerate(sorted(backups, key=lambda b: b.key)):
            if check_stop:
                check_stop()
            out = restoremod.to_scratch(
                self.engine,
                self.restic,
                backup,
                run_id,
                self.settings.environment,
                sample=self.section["drill_sample_files"],
            )
            outcomes.append(out)
            self.state.drill(
                backup.key,
                {
                    "service": backup.doc["service"],
                    "kind": backup.doc["kind"],
                    "ok": out.ok,
                    "finished": time.time(),
                    "compared": out.compared,
                    "duration_seconds": out.duration_seconds,
                    "snapshot": out.snapshot,
                    "error": out.error,
                    "differences": out.differences[:20],
                },
            )
            if progress:
                progress(i + 1, len(backups), "items")
        return {
            "items": len(outcomes),
            "compared": {o.key: o.compared for o in outcomes},
            "failed": [o.key for o in outcomes if not o.ok],
            "errors": {
                o.key: o.error or "; ".join(o.differences[:5]) for o in outcomes if not o.ok
            },
        }

    # -- restores ----------------------------------------------------------------------------
    def restore(
        self, service: str, snapshot: str, to: str, run_id: str, keep: bool = False
    ) -> list[restoremod.Outcome]:
        backups = restoremod.find(self.restic, self.settings.environment, service, snapshot)
        if to == "scratch":
            return [
                restoremod.to_scratch(
                    self.engine,
                    self.restic,
                    b,
                    run_id,
                    self.settings.environment,
                    keep=keep,
                    sample=self.section["drill_sample_files"],
                )
                for b in backups
            ]
        current = {i.key: i for i in self.items()} if backups else {}
        # a safety backup of the current state first: a live restore can be undone
        safety = self.runner.run(
            [current[b.key] for b in backups if b.key in current],
            f"pre-restore-{run_id}",
            prune=False,
        )
        if safety["failed"]:
            raise RunRefused(f"the safety backup before the restore failed: {safety['errors']}")
        return [
            restoremod.to_live(self.engine, self.restic, b, current.get(b.key))
            for b in sorted(backups, key=lambda b: RESTORE_ORDER.index(b.doc["group"]))
        ]

    def disaster_restore(
        self,
        env: str,
        on_item: Callable[[int, int, restoremod.Outcome | None, str], None] | None = None,
    ) -> dict[str, Any]:
        """Every service's newest complete backup of ``env`` into the live containers,
        databases first; returns the report (duration, per item the integrity check)."""
        started = time.monotonic()
        backups = restoremod.find(self.restic, env, None)
        backups.sort(key=lambda b: (RESTORE_ORDER.index(b.doc["group"]), b.key))
        try:
            current = {i.key: i for i in self.items()}
        except (PlanError, RunRefused):
            current = {}
        outcomes: list[restoremod.Outcome] = []
        for i, backup in enumerate(backups):
            if on_item:
                on_item(i, len(backups), None, backup.key)
            out = restoremod.to_live(self.engine, self.restic, backup, current.get(backup.key))
            outcomes.append(out)
            if on_item:
                on_item(i + 1, len(backups), out, backup.key)
        took = time.monotonic() - started
        report = {
            "environment": env,
            "duration_seconds": round(took, 1),
            "items": [o.as_dict() for o in outcomes],
            "ok": all(o.ok for o in outcomes),
            "failed": [o.key for o in outcomes if not o.ok],
        }
        if self.audit is not None:
            self.audit.append(
                "backup.dr_restore", {k: v for k, v in report.items() if k != "items"}
            )
        return report
