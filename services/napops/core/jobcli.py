"""Running a sidecar's job from the operator CLI, in this process, with progress on stderr.

``napops jobs run SIDECAR JOB`` uses it for any job, and a sidecar's own commands
(``napops backup run``, ...) call :func:`run_job` with their job name. The sidecar's
configuration is read as the sidecar reads it (``--config`` or ``$NAPOPS_CONFIG``); locks
live in its ``state_dir``, so a CLI run and the sidecar's own run of the same thing exclude
each other when they share that directory (run the CLI inside the sidecar's container).

Exit status: 0 the run succeeded, 1 it failed or was interrupted, 2 usage, configuration,
or the job is already running.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, TextIO

from . import config as configmod
from . import logs
from .errors import ConfigError
from .jobs import JobBusy, Run, UnknownJob
from .sidecar import Setup, build

SIDECARS = ("relay", "certs", "deploy", "backup", "compliance")


def sidecar_parts(service: str) -> tuple[Any, Setup]:
    """The (SECTION schema, setup) of a sidecar, from its ``main`` module."""
    module = importlib.import_module(f"napops.{service}.main")
    return getattr(module, "SECTION", None), module.setup


def progress_printer(stream: TextIO, name: str | None = None) -> Any:
    """An on_progress callback printing "  NAME: done of total unit" (NAME: the job's)."""

    def show(run: Run) -> None:
        total = "?" if run.total is None else run.total
        line = f"  {name or run.job}: {run.done} of {total} {run.unit}"
        if run.bytes_done or run.bytes_total:
            line += f", {human_bytes(run.bytes_done)}"
            if run.bytes_total:
                line += f" of {human_bytes(run.bytes_total)}"
        print(line, file=stream, flush=True)

    return show


def human_bytes(n: int) -> str:
    """1536 -> "1.5 KiB" (binary units, one decimal; bytes as they are)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def print_run(run: Run, as_json: bool, name: str | None = None) -> None:
    """The finished run for a person (state, time, reason, summary) or as JSON."""
    if as_json:
        print(json.dumps(run.as_dict(), default=str))
        return
    took = (run.finished or 0) - (run.started or 0)
    print(f"{name or run.job} run {run.run_id}: {run.state} in {took:.1f}s")
    if run.error:
        print(f"  reason: {run.error}")
    for key, value in run.summary.items():
        print(f"  {key}: {value}")


def run_job(
    service: str, job: str, config_path: str | None, as_json: bool = False, quiet: bool = False
) -> int:
    """Run ``job`` of ``service`` to the end here; print the outcome. Returns the exit status."""
    section, setup = sidecar_parts(service)
    schema = configmod.common_schema(service, section)
    try:
        config = configmod.load(schema, config_path)
        ctx = build(service, section, config, setup)
    except ConfigError as exc:
        print(f"napops: invalid configuration of {service}:", file=sys.stderr)
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    logs.setup(service, "WARNING", configmod.secrets_of(config, schema), stream=sys.stderr)
    try:
        run = ctx.jobs.run(
            job, trigger="cli", on_progress=None if quiet else progress_printer(sys.stderr)
        )
    except (UnknownJob, JobBusy) as exc:
        print(f"napops: {exc}", file=sys.stderr)
        return 2
    finally:
        for hook in ctx.on_shutdown:
            hook()
    print_run(run, as_json)
    return 0 if run.state == "success" else 1


def _jobs_run(args: argparse.Namespace) -> int:
    return run_job(args.sidecar, args.job, args.config, args.json)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = sub.add_parser("jobs", help="run a sidecar's job now, here")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    run = jsub.add_parser(
        "run",
        help="run one job of a sidecar in this process, with progress",
        description="Exit 0 success, 1 the run failed, 2 usage/config/already running.",
    )
    run.add_argument("sidecar", choices=SIDECARS)
    run.add_argument("job")
    run.add_argument("--config", default=None, help="the sidecar's YAML (default $NAPOPS_CONFIG)")
    run.add_argument("--json", action="store_true", help="the finished run as JSON")
    run.set_defaults(handler=_jobs_run)
