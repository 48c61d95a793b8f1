"""``napops audit``: the hardening policy applied to the Compose files (static) and/or the
running containers (runtime), as a table, JSON or SARIF.

Exit status: 0 no failure, 1 a check failed without a valid waiver, 2 usage, a bad policy,
Compose files that do not render, or an engine that cannot be reached.
"""

from __future__ import annotations

import argparse
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
