"""``napops backup run``, ``napops restore``, ``napops dr restore``: the backup sidecar's work
from the operator CLI, in this process (run it inside the sidecar's container, where the
repository, its password and the state directory are).

Exit status: 0 success, 1 the run, restore or check failed, 2 usage, configuration, or the
run was refused before anything ran (repository, password, declarations)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..core import config as configmod
from ..core import logs
from ..core.errors import ConfigError, NapopsError
from ..core.jobcli import print_run, progress_printer
from ..core.jobs import JobBusy, new_run_id
from ..core.sidecar import Context, build
from . import main as backup_main
from .restore import Outcome, RestoreError
from .runner import RunRefused
from .service import LOCK, BackupService


def _context(config_path: str | None) -> Context | None:
    schema = configmod.common_schema("backup", backup_main.SECTION)
    try:
        config = configmod.load(schema, config_path)
        ctx = build("backup", backup_main.SECTION, config, backup_main.setup)
    except ConfigError as exc:
        print("napops: invalid configuration of backup:", file=sys.stderr)
        for line in exc.problems:
            print(line, file=sys.stderr)
        return None
    logs.setup("backup", "WARNING", configmod.secrets_of(config, schema), stream=sys.stderr)
    return ctx


def _service(ctx: Context) -> BackupService:
    svc: BackupService = ctx.app.config["napops.backup"]
    return svc


def _shutdown(ctx: Context) -> None:
    for hook in ctx.on_shutdown:
        hook()


def backup_run(args: argparse.Namespace) -> int:
    ctx = _context(args.config)
    if ctx is None:
        return 2
    svc = _service(ctx)
    svc.only_service = args.service
    job = "backup" if args.group is None else f"backup-{args.group}"

    show = progress_printer(sys.stderr, "backup")

    try:
        run = ctx.jobs.run(job, trigger="cli", on_progress=show)
    except JobBusy as exc:
        print(f"napops: {exc}", file=sys.stderr)
        return 2
    finally:
        _shutdown(ctx)
    print_run(run, args.json, "backup")
    if run.state != "success" and run.error and "RunRefused" in run.error:
        return 2
    return 0 if run.state == "success" else 1


def _print_outcome(o: Outcome) -> None:
    verdict = "OK" if o.ok else "FAILED"
    print(
        f"  {o.key}: {verdict} ({o.to}, snapshot {o.snapshot}, {o.compared} compared, "
        f"{o.duration_seconds:.1f}s)"
    )
    if o.target:
        print(f"    restored into {o.target} (kept: remove it with docker rm -f -v {o.target})")
    if o.error:
        print(f"    error: {o.error}")
    for diff in o.differences[:20]:
        print(f"    differs: {diff}")


def restore_cmd(args: argparse.Namespace) -> int:
    if args.to == "live" and not args.yes:
        print(
            "napops: --to live replaces the live data: add --yes (a safety backup is taken first)",
            file=sys.stderr,
        )
        return 2
    ctx = _context(args.config)
    if ctx is None:
        return 2
    svc = _service(ctx)
    run_id = new_run_id()
    try:
        with svc.locks.hold(LOCK, run_id, 0):
            outcomes = svc.restore(args.service, args.snapshot, args.to, run_id, keep=args.keep)
    except (RestoreError, RunRefused, NapopsError) as exc:
        print(f"napops: {exc}", file=sys.stderr)
        return 2
    finally:
        _shutdown(ctx)
    if args.json:
        print(json.dumps([o.as_dict() for o in outcomes]))
    else:
        print(f"restore of {args.service} to {args.to} (run {run_id}):")
        for o in outcomes:
            _print_outcome(o)
    return 0 if outcomes and all(o.ok for o in outcomes) else 1


def dr_restore(args: argparse.Namespace) -> int:
    if not args.all:
        print("napops: dr restore needs --all (every service of the environment)", file=sys.stderr)
        return 2
    if not args.yes:
        print("napops: dr restore replaces the data of every service: add --yes", file=sys.stderr)
        return 2
    ctx = _context(args.config)
    if ctx is None:
        return 2
    svc = _service(ctx)
    run_id = new_run_id()
    started = time.monotonic()

    def progress(done: int, total: int, out: Outcome | None, key: str) -> None:
        if out is None:
            print(f"  [{done + 1}/{total}] restoring {key} ...", file=sys.stderr, flush=True)
        else:
            verdict = "ok" if out.ok else f"FAILED: {out.error or '; '.join(out.differences[:3])}"
            print(
                f"  [{done}/{total}] {key}: {verdict} "
                f"({out.compared} compared, {out.duration_seconds:.1f}s)",
                file=sys.stderr,
                flush=True,
            )

    try:
        with svc.locks.hold(LOCK, run_id, 0):
            report = svc.disaster_restore(args.env, progress)
    except (RestoreError, NapopsError) as exc:
        print(f"napops: {exc}", file=sys.stderr)
        return 2
    finally:
        _shutdown(ctx)
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"disaster recovery of env {args.env}: {'OK' if report['ok'] else 'FAILED'} "
            f"in {time.monotonic() - started:.1f}s"
        )
        for o in report["items"]:
            _print_outcome(Outcome(**o))
    return 0 if report["ok"] else 1


def register(sub: Any) -> None:
    backup = sub.add_parser("backup", help="back up now (the backup sidecar's job, here)")
    bsub = backup.add_subparsers(dest="backup_command", required=True)
    run = bsub.add_parser(
        "run",
        help="back up every item, one service's or one group's",
        description="Exit 0 success, 1 an item failed, 2 refused before anything ran.",
    )
    run.add_argument("--service", default=None, help="only this service's items")
    run.add_argument("--group", default=None, choices=["databases", "redis", "files", "config"])
    run.add_argument("--config", default=None, help="the sidecar's YAML (default $NAPOPS_CONFIG)")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=backup_run)

    rest = sub.add_parser(
        "restore",
        help="restore a service's backup into scratch or live",
        description="Exit 0 restored and matching its manifest, 1 failed or differs, 2 usage.",
    )
    rest.add_argument("service")
    rest.add_argument(
        "--snapshot", default="latest", help="a snapshot id (of any part of a run) or latest"
    )
    rest.add_argument("--to", choices=["scratch", "live"], default="scratch")
    rest.add_argument("--yes", action="store_true", help="confirm a live restore")
    rest.add_argument(
        "--keep", action="store_true", help="keep the scratch container for inspection"
    )
    rest.add_argument("--config", default=None)
    rest.add_argument("--json", action="store_true")
    rest.set_defaults(handler=restore_cmd)

    dr = sub.add_parser("dr", help="disaster recovery")
    dsub = dr.add_subparsers(dest="dr_command", required=True)
    drr = dsub.add_parser(
        "restore",
        help="restore every service of an environment, databases first",
        description="Exit 0 every item restored and verified, 1 some failed, 2 usage.",
    )
    drr.add_argument("--all", action="store_true", required=True)
    drr.add_argument("--env", required=True)
    drr.add_argument("--yes", action="store_true")
    drr.add_argument("--config", default=None)
    drr.add_argument("--json", action="store_true")
    drr.set_defaults(handler=dr_restore)
