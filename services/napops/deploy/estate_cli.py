"""``napops estate up`` and ``napops estate diff``: apply compose/hosts.yml, or show what that
would change.

    napops estate up --env ENV [--host H] [--json] [--wait-timeout S] [--pull-timeout S]
    napops estate diff --env ENV [--host H] [--json]

The estate tool (compose/estate.py, standard library only, also `compose/bin/estate up` and
`make estate-up`) does the work: it alone owns the Compose arguments, the placement and the
networks. It is loaded from the repository's compose folder (``--compose-dir``,
``$NAPOPS_COMPOSE_DIR`` or ./compose), as `napops audit` and `napops drift` load it, so
`napops estate` and `make estate-up` are one command with one output and one set of exit
statuses:

    up:   0 every stack healthy   1 a stack (or a host's networks) failed
          3 refused: a stack invalid, an engine unreachable or an image not pullable;
            nothing started
    diff: 0 nothing would change  1 something would   3 a stack or engine not compared
    both: 2 usage: unknown environment or host, a broken compose/hosts.yml
"""

from __future__ import annotations

import argparse
import sys

from ..core.errors import NapopsError
from ..core.estatetool import compose_dir, estate_module


def run_estate(args: argparse.Namespace) -> int:
    try:
        directory = compose_dir(args.compose_dir)
        tool = estate_module(directory)
    except NapopsError as exc:
        print(f"napops estate: {exc}", file=sys.stderr)
        return 2
    argv = ["--compose-dir", str(directory), args.estate_command, "--env", args.env]
    argv += ["--host", args.host] if args.host else []
    argv += ["--json"] if args.json else []
    if args.estate_command == "up":
        argv += ["--wait-timeout", str(args.wait_timeout), "--pull-timeout", str(args.pull_timeout)]
    status: int = tool.main(argv)
    return status


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    estate = sub.add_parser(
        "estate",
        help="apply compose/hosts.yml to its hosts, or show what would change",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    esub = estate.add_subparsers(dest="estate_command", required=True)
    for name, text in (
        ("up", "validate every stack, create the networks, start each host's stacks in order, "
               "wait until healthy; nothing starts when a stack is invalid"),
        ("diff", "per service, what `up` would change (Compose's config hash, image, missing "
                 "and extra containers); changes nothing"),
    ):  # fmt: skip
        p = esub.add_parser(name, help=text, description=text)
        p.add_argument("--env", required=True, help="environment of compose/hosts.yml")
        p.add_argument("--host", help="only this host of the environment")
        p.add_argument("--json", action="store_true", help="the report as JSON on stdout")
        p.add_argument("--compose-dir", help="the repository's compose/ (default ./compose)")
        if name == "up":
            p.add_argument("--wait-timeout", type=float, default=300, metavar="S",
                           help="per stack, seconds until healthy (default 300)")  # fmt: skip
            p.add_argument("--pull-timeout", type=float, default=900, metavar="S",
                           help="per stack, more seconds for pulling (default 900)")  # fmt: skip
        p.set_defaults(handler=run_estate)
