"""Entry point of the backup sidecar (scheduled restic backups, verification, restore drills)."""

from __future__ import annotations

from typing import Any

from ..core import sidecar
from ..core.schema import Schema
from . import metrics
from .items import STRATEGIES
from .service import BackupService

_CRON = {"type": "string", "format": "cron"}


def _cron(default: str, description: str) -> Schema:
    return _CRON | {"default": default, "description": description, "examples": [default]}


SECTION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "description": "Backups into a restic repository, verification and restore drills.",
    "properties": {
        "environment": {
            "type": "string",
            "pattern": r"^[a-z0-9-]+$",
            "default": "dev",
            "description": "The estate environment, written as the env tag of every snapshot "
            "(`napops dr restore --env` selects by it).",
            "examples": ["prod"],
        },
        "repository": {
            "type": "string",
            "minLength": 1,
            "default": "/var/lib/napops/backup/restic",
            "description": "The restic repository (a local path beside the sidecar, or any "
            "restic location). A local path must exist; it is initialised by `restic init`.",
            "examples": ["/volume1/backup/restic"],
        },
        "password_file": {
            "type": "string",
            "minLength": 1,
            "default": "/run/secrets/restic_password",
            "description": "File holding the repository password (only the sidecar has it).",
            "examples": ["/run/secrets/restic_password"],
        },
        "restic_binary": {
            "type": "string",
            "default": "restic",
            "description": "The restic program.",
            "examples": ["/usr/bin/restic"],
        },
        "cache_dir": {
            "type": "string",
            "default": "/var/lib/napops/backup/cache",
            "description": "restic's cache directory.",
            "examples": ["/var/cache/restic"],
        },
        "timeout_seconds": {
            "type": "number",
            "minimum": 1,
            "default": 21600,
            "description": "Longest a single restic command may run.",
            "examples": [3600],
        },
        "parallelism": {
            "type": "integer",
            "minimum": 1,
            "maximum": 8,
            "default": 2,
            "description": "Items backed up at the same time.",
            "examples": [1],
        },
        "retry": {
            "type": "object",
            "additionalProperties": False,
            "description": "Retries of an item when the repository is unreachable or locked.",
            "properties": {
                "attempts": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 3,
                    "description": "Attempts in all (1: no retry).",
                    "examples": [5],
                },
                "backoff_seconds": {
                    "type": "number",
                    "minimum": 0,
                    "default": 30,
                    "description": "Wait before the first retry; doubles each time.",
                    "examples": [10],
                },
            },
        },
        "min_free_bytes": {
            "type": "integer",
            "minimum": 0,
            "default": 1073741824,
            "description": "A run is refused when the repository's filesystem has less free "
            "space (local repositories; exported as napops_backup_repository_free_bytes).",
            "examples": [10737418240],
        },
        "retention": {
            "type": "object",
            "additionalProperties": False,
            "description": "`restic forget --prune` after a run without failures (contract "
            "6.2: 30 daily, 4 weekly, 6 monthly).",
            "properties": {
                "daily": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 30,
                    "description": "Daily snapshots kept.",
                    "examples": [14],
                },
                "weekly": {
                    "type": "integer",
                    "minimum": 0,
                    "default": 4,
                    "description": "Weekly snapshots kept.",
                    "examples": [8],
                },
                "monthly": {
                    "type": "integer",
                    "minimum": 0,
                    "default": 6,
                    "description": "Monthly snapshots kept.",
                    "examples": [12],
                },
                "enabled": {
                    "type": "boolean",
                    "default": True,
                    "description": "Run retention at all.",
                    "examples": [False],
                },
            },
        },
        "compose_project": {
            "type": "string",
            "default": "",
            "description": "Compose projects in which `container: compose:<service>` finds "
            "the service's one running container: comma-separated globs (`napops-prod-*`: "
            "every stack of prod, one project each); empty: any project.",
            "examples": ["napops-prod-*", "napops-dev,napops-dev-*"],
        },
        "labels": {
            "type": "boolean",
            "default": True,
            "description": "Also back up containers that declare `napops.backup.strategy` "
            "labels (see docs/backup.md).",
            "examples": [False],
        },
        "items": {
            "type": "array",
            "default": [],
            "description": "Items declared here (they win over labels for the same service "
            "and strategy).",
            "examples": [[{"service": "mariadb", "strategy": "mariadb", "container": "mariadb"}]],
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["service", "strategy", "container"],
                "properties": {
                    "service": {
                        "type": "string",
                        "description": "Name in tags, metrics and `napops restore`.",
                        "examples": ["mariadb"],
                    },
                    "strategy": {
                        "type": "string",
                        "enum": list(STRATEGIES),
                        "description": "How it is backed up.",
                        "examples": ["mariadb"],
                    },
                    "container": {
                        "type": "string",
                        "description": "Container name or id.",
                        "examples": ["lcbp3-db-mariadb-1"],
                    },
                    "group": {
                        "type": "string",
                        "enum": ["databases", "redis", "files", "config"],
                        "description": "Which scheduled job backs it up (default by strategy).",
                        "examples": ["config"],
                    },
                    "options": {
                        "type": "object",
                        "default": {},
                        "description": "Strategy options (docs/backup.md).",
                        "examples": [{"databases": ["lcbp3"]}],
                    },
                },
            },
        },
        "schedules": {
            "type": "object",
            "additionalProperties": False,
            "description": "Cron schedules (in `timezone`) of the jobs (contract 6.2).",
            "properties": {
                "databases": _cron(
                    "0 2,8,14,20 * * *", "Database dumps: 02:00 and every 6 h (RPO 6 h)."
                ),
                "redis": _cron("0 3 * * *", "Redis: daily 03:00."),
                "files": _cron("30 3 * * *", "Volumes and uploads: daily (RPO 24 h)."),
                "config": _cron("0 4 * * 0", "Configuration: weekly, Sunday 04:00."),
                "verify": _cron("0 5 * * *", "restic check with a rotating --read-data-subset."),
                "verify_full": _cron("0 5 1 * *", "restic check --read-data (every pack)."),
                "drill": _cron("0 6 * * 0", "Restore drill of every item."),
            },
        },
        "verify_subsets": {
            "type": "integer",
            "minimum": 1,
            "default": 7,
            "description": "The daily check reads 1/N of the data, a different part each day.",
            "examples": [30],
        },
        "drill_sample_files": {
            "type": "integer",
            "minimum": 1,
            "default": 20,
            "description": "Files per archive the drill restores and checksums.",
            "examples": [100],
        },
        "lock_wait_seconds": {
            "type": "number",
            "minimum": 0,
            "default": 14400,
            "description": "How long a job waits for another one using the repository.",
            "examples": [600],
        },
    },
}

JOBS = {
    "backup": None,
    "backup-databases": "databases",
    "backup-redis": "redis",
    "backup-files": "files",
    "backup-config": "config",
}


def setup(ctx: sidecar.Context) -> None:
    svc = BackupService.from_context(ctx)
    ctx.app.config["napops.backup"] = svc
    declared = [(i["service"], i["strategy"]) for i in ctx.section["items"]]
    metrics.register(ctx.registry, svc.state, declared)
    sched: dict[str, Any] = ctx.section["schedules"]
    for name, group in JOBS.items():
        ctx.add_job(
            name,
            svc.backup_job(group),
            schedule=sched[group] if group else None,
            overlap="queue",
            description=f"back up {'every item' if group is None else 'the ' + group + ' items'}",
        )
    ctx.add_job(
        "verify",
        svc.verify_job(full=False),
        schedule=sched["verify"],
        overlap="queue",
        description="restic check, a rotating subset of the data",
    )
    ctx.add_job(
        "verify-full",
        svc.verify_job(full=True),
        schedule=sched["verify_full"],
        overlap="queue",
        description="restic check reading all data",
    )
    ctx.add_job(
        "drill",
        svc.drill_job(),
        schedule=sched["drill"],
        overlap="queue",
        description="restore every item into scratch and compare with its manifest",
    )


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("backup", SECTION, setup, argv)
