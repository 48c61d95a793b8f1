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
from .core import audit, jobcli
from .relay import cli as relay_cli

Handler = Callable[[argparse.Namespace], int]


def _key_from(args: argparse.Namespace) -> str:
    path = args.key_file or os.environ.get("NAPOPS_AUDIT_KEY_FILE")
    if not path:
        raise SystemExit("napops: --key-file (or NAPOPS_AUDIT_KEY_FILE) is required")
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SystemExit(f"napops: cannot read key file {path!r}: {exc.strerror}") from None


def trail_verify(args: argparse.Namespace) -> int:
    key = _key_from(args)
    try:
        verdict = audit.verify(args.file, key)
    except OSError as exc:
        print(f"napops: cannot read trail {args.file!r}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(verdict.as_dict()))
    elif verdict.ok:
        print(f"OK: {verdict.records} records, chain intact; head {verdict.head}")
    else:
        print(
            f"BAD: line {verdict.line}: {verdict.reason} "
            f"({verdict.records} records before it are intact)"
        )
    return 0 if verdict.ok else 1


def _add_trail(sub: argparse._SubParsersAction) -> None:
    trail = sub.add_parser("trail", help="the tamper-evident audit trail")
    tsub = trail.add_subparsers(dest="trail_command", required=True)
    verify = tsub.add_parser(
        "verify",
        help="check every record; report the first bad one",
        description="Exit 0 when the chain is intact, 1 at the first bad record, 2 on usage.",
    )
    verify.add_argument("file", help="the audit trail (JSONL)")
    verify.add_argument("--key-file", help="HMAC key file (default: $NAPOPS_AUDIT_KEY_FILE)")
    verify.add_argument("--json", action="store_true", help="machine-readable verdict")
    verify.set_defaults(handler=trail_verify)


REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = [_add_trail]
"""Each later subsystem appends a function that adds its subcommand."""
REGISTRARS.append(relay_cli.register)
REGISTRARS.append(jobcli.register)
REGISTRARS.append(backup_cli.register)


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
