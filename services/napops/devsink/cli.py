"""``napops dev sink`` and ``napops dev inbox``: the local stack's mail and chat catchers.

``dev inbox`` reads the sink's folder (``--dir``, ``$NAPOPS_DEVSINK_DIR``: inside the sink's
container) or asks its HTTP server (``--url``, ``$NAPOPS_DEVSINK_URL``, default
http://127.0.0.1:8065, the port the dev stack publishes on the host's loopback). Exit 0 shown,
1 ``--wait`` ran out before enough messages arrived, 2 bad usage or the sink cannot be read.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import requests

from .inbox import KINDS, Inbox

DEFAULT_URL = "http://127.0.0.1:8065"


class SinkUnreachable(Exception):
    """The inbox could not be read."""


def fetch(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.dir:
        return Inbox(args.dir).read(args.since, args.kind)
    params: dict[str, Any] = {"since": args.since}
    if args.kind:
        params["kind"] = args.kind
    try:
        resp = requests.get(f"{args.url.rstrip('/')}/inbox", params=params, timeout=5)
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise SinkUnreachable(f"cannot read the dev inbox at {args.url}: {exc}") from None
    return result


def describe(record: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(record["received"], UTC).astimezone().isoformat("T", "seconds")
    if record["kind"] == "email":
        head = f"#{record['id']} email {when} {record['from']} -> {', '.join(record['to'])}"
        body = [f"  Subject: {record['subject']}"]
        body += [f"  {line}" for line in record["text"].strip().splitlines()[:6]]
    else:
        head = f"#{record['id']} rocketchat {when} (integration {record['integration']})"
        body = [f"  {line}" for line in record["text"].strip().splitlines()[:6]]
        body += [f"  [attachment] {title}" for title in record["attachments"]]
    return "\n".join([head, *body])


def inbox(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + (args.wait or 0)
    while True:
        try:
            records = fetch(args)
        except SinkUnreachable as exc:
            if time.monotonic() >= deadline:
                print(f"napops dev inbox: {exc}", file=sys.stderr)
                return 2
            records = []
        if not args.wait or len(records) >= args.count or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if args.json:
        print(json.dumps(records, ensure_ascii=False))
    elif records:
        print("\n".join(describe(r) for r in records))
    else:
        print("the dev inbox is empty" + (" (since the time given)" if args.since else ""))
    if args.wait and len(records) < args.count:
        print(
            f"napops dev inbox: {len(records)} of {args.count} message(s) within {args.wait:g} s",
            file=sys.stderr,
        )
        return 1
    return 0


def sink(args: argparse.Namespace) -> int:
    from ..core import logs
    from .server import serve

    logs.setup("devsink", "INFO")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    try:
        serve(Inbox(args.dir), args.host, args.smtp_port, args.http_port)
    except OSError as exc:
        print(f"napops dev sink: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = sub.add_parser("dev", help="the local stack's mail and chat sinks (dev only)")
    dsub = dev.add_subparsers(dest="dev_command", required=True)
    s = dsub.add_parser(
        "sink",
        help="run the SMTP and Rocket.Chat webhook sinks",
        description="Accept every email (any AUTH, no TLS) and Rocket.Chat incoming-webhook "
        "post, keep them in DIR/inbox.jsonl and serve them at GET /inbox.",
    )
    s.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    s.add_argument("--smtp-port", type=int, default=2525)
    s.add_argument("--http-port", type=int, default=8065)
    s.add_argument("--dir", default=os.environ.get("NAPOPS_DEVSINK_DIR", "/var/lib/napops/devsink"))
    s.set_defaults(handler=sink)
    i = dsub.add_parser(
        "inbox",
        help="show what reached the dev sinks",
        description="Exit 0 shown, 1 --wait ran out before --count messages, 2 usage/unreachable.",
    )
    i.add_argument("--dir", default=os.environ.get("NAPOPS_DEVSINK_DIR"), help="the sink's folder")
    i.add_argument("--url", default=os.environ.get("NAPOPS_DEVSINK_URL", DEFAULT_URL))
    i.add_argument("--kind", choices=KINDS)
    i.add_argument("--since", type=float, default=0.0, help="unix seconds; older ones hidden")
    i.add_argument("--wait", type=float, default=0.0, help="seconds to wait for --count messages")
    i.add_argument("--count", type=int, default=1, help="how many to wait for (default 1)")
    i.add_argument("--json", action="store_true", help="the records as a JSON list")
    i.set_defaults(handler=inbox)
