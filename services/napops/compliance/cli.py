"""``napops audit``: the hardening policy applied to the Compose files (static) and/or the
running containers (runtime), as a table, JSON or SARIF.

Exit status: 0 no failure, 1 a check failed without a valid waiver, 2 usage, a bad policy,
Compose files that do not render, or an engine that cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..core.dockerhost import DockerError, Engine
from ..core.errors import ConfigError, NapopsError
from . import policy as policymod
from . import report, runtime, static
from .audit import Finding, audit, failures

DEFAULT_POLICY = "compose/policy.yml"


def run_audit(args: argparse.Namespace) -> int:
    try:
        policy = policymod.load(args.policy)
    except ConfigError as exc:
        print("napops audit: invalid policy:", file=sys.stderr)
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    findings: list[Finding] = []
    try:
        if not args.runtime:
            rendered = static.workloads(static.compose_dir(args.compose_dir), args.env or None)
            for workloads in rendered.values():
                findings += audit(workloads, policy)
        if not args.static:
            host = args.docker_host or os.environ.get("DOCKER_HOST")
            findings += audit(runtime.workloads(Engine({"host": host} if host else {})), policy)
    except (DockerError, NapopsError) as exc:
        print(f"napops audit: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(report.as_json(findings))
    elif args.sarif:
        print(report.sarif(findings))
    else:
        print(report.table(findings, show_pass=args.all))
        print(f"\n{report.summary(findings)}")
    return 1 if failures(findings) else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="hardening audit of the Compose files and/or the running containers",
        description="Exit 0 compliant, 1 a check failed without a valid waiver, 2 usage/policy/"
        "render/engine problem.",
    )
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--static", action="store_true", help="only the rendered Compose files")
    scope.add_argument("--runtime", action="store_true", help="only the running containers")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="findings as JSON")
    fmt.add_argument("--sarif", action="store_true", help="findings as SARIF 2.1.0")
    p.add_argument("--all", action="store_true", help="list passing checks too")
    p.add_argument("--policy", default=os.environ.get("NAPOPS_POLICY", DEFAULT_POLICY))
    p.add_argument("--env", action="append", help="static: only this environment (repeatable)")
    p.add_argument("--compose-dir", help="the repository's compose/ (default ./compose)")
    p.add_argument("--docker-host", help="runtime: engine address (default $DOCKER_HOST)")
    p.set_defaults(handler=run_audit)


def run_drift(args: argparse.Namespace) -> int:
    from .drift_io import engine_drift, render_models

    try:
        models = render_models(args.compose_dir, args.env, args.local)
        if args.save_expected:
            with open(args.save_expected, "w", encoding="utf-8") as fh:
                json.dump(models, fh)
            print(f"saved the rendered models of {len(models)} projects to {args.save_expected}")
            return 0
        host = args.docker_host or os.environ.get("DOCKER_HOST")
        diffs = engine_drift(Engine({"host": host} if host else {}), models)
    except (DockerError, NapopsError) as exc:
        print(f"napops drift: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([d.as_dict() for d in diffs], indent=2))
    elif not diffs:
        print(f"no drift: the running projects of {args.env} match their Compose files")
    else:
        for d in diffs:
            print(f"{d.project}/{d.service}: {d.field}: {d.detail}")
        print(f"\n{len(diffs)} difference(s)")
    return 1 if diffs else 0


def register_drift(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drift",
        help="compare the running containers with their environment's Compose files",
        description="Exit 0 no drift, 1 differences found, 2 usage/render/engine problem.",
    )
    p.add_argument(
        "--env", default=os.environ.get("ENV", "dev"), help="environment (default $ENV or dev)"
    )
    p.add_argument(
        "--local", action="store_true", help="the local stack of `make up` (project napops-ENV)"
    )
    p.add_argument("--json", action="store_true", help="differences as JSON")
    p.add_argument("--compose-dir", help="the repository's compose/ (default ./compose)")
    p.add_argument("--docker-host", help="engine address (default $DOCKER_HOST)")
    p.add_argument(
        "--save-expected",
        metavar="FILE",
        help="write the rendered models for the sidecar, compare nothing",
    )
    p.set_defaults(handler=run_drift)
