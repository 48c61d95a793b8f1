"""The ``napops`` operator CLI. Subcommands register themselves in :data:`COMMANDS`.

Exit status: 0 success, 1 the check found a problem, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .backup import cli as backup_cli
from .certs import cli as certs_cli
from .compliance import cli as compliance_cli
from .core import audit, jobcli
from .deploy import cli as deploy_cli
from .deploy import estate_cli
from .devsink import cli as devsink_cli
from .relay import cli as relay_cli

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad usage or an unreadable input: exit status 2."""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _key_from(args: argparse.Namespace) -> str:
    path = args.key_file or os.environ.get("NAPOPS_AUDIT_KEY_FILE")
    if not path:
        raise UsageError("--key-file (or NAPOPS_AUDIT_KEY_FILE) is required")
    try:
        key = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot read key file {path!r}: {reason}") from None
    if not key:
        raise UsageError(f"key file {path!r} is empty")
    return key


def _describe(verdict: audit.Verdict) -> str:
    if verdict.kind == audit.EMPTY:
        return "OK: empty trail (no record yet), nothing to doubt"
    if verdict.ok:
        return f"OK: {plural(verdict.records, 'record')}, chain intact; head {verdict.head}"
    if verdict.kind == audit.WRONG_KEY:
        return f"WRONG KEY: {verdict.reason}"
    return (
        f"BAD: line {verdict.line}: {verdict.reason} "
        f"({plural(verdict.records, 'record')} before it intact)"
    )


def trail_verify(args: argparse.Namespace) -> int:
    """Exit 0 every trail intact (or empty), 1 a trail was tampered with, 2 usage or I/O
    (missing or unreadable file or key, or a key that matches no record)."""
    try:
        key = _key_from(args)
    except UsageError as exc:
        print(f"napops trail verify: {exc}", file=sys.stderr)
        return 2
    status = 0
    for file in args.files:
        try:
            verdict = audit.verify(file, key)
        except OSError as exc:
            reason = f"cannot read trail {file!r}: {exc.strerror}"
            if isinstance(exc, FileNotFoundError):
                reason += " (every sidecar writes a genesis record at start: is this audit.path?)"
            print(f"napops trail verify: {reason}", file=sys.stderr)
            status = status or 2
            continue
        prefix = f"{file}: " if len(args.files) > 1 else ""
        print(json.dumps(verdict.as_dict()) if args.json else prefix + _describe(verdict))
        if verdict.kind == audit.TAMPERED:
            status = 1  # tampering outranks every other finding
        elif verdict.kind == audit.WRONG_KEY:
            status = status or 2
    return status


def _add_trail(sub: argparse._SubParsersAction) -> None:
    trail = sub.add_parser("trail", help="the tamper-evident audit trail")
    tsub = trail.add_subparsers(dest="trail_command", required=True)
    verify = tsub.add_parser(
        "verify",
        help="check every record; report the first bad one",
        description="Check one or more trails (one per host; give several to cover them all). "
        "Exit 0 when every chain is intact or empty, 1 when a trail was tampered with (edited, "
        "deleted, reordered, truncated or forged record), 2 on usage or I/O problems: a "
        "missing or unreadable trail or key file, or a key that matches no record.",
    )
    verify.add_argument("files", nargs="+", metavar="FILE", help="audit trail (JSONL)")
    verify.add_argument("--key-file", help="HMAC key file (default: $NAPOPS_AUDIT_KEY_FILE)")
    verify.add_argument("--json", action="store_true", help="machine-readable verdict per file")
    verify.set_defaults(handler=trail_verify)


REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = [_add_trail]
"""Each later subsystem appends a function that adds its subcommand."""
REGISTRARS.append(relay_cli.register)
REGISTRARS.append(jobcli.register)
REGISTRARS.append(devsink_cli.register)
REGISTRARS.append(certs_cli.register)
REGISTRARS.append(compliance_cli.register)
REGISTRARS.append(compliance_cli.register_drift)
REGISTRARS.append(deploy_cli.register)
REGISTRARS.append(backup_cli.register)
REGISTRARS.append(estate_cli.register)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="napops", description="Operate NAP-DMS: the napops CLI.")
    p.add_argument("--version", action="version", version=f"napops {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
