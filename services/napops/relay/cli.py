"""``napops relay test [--channel email|rocketchat]``: which channels are configured and
reachable, and (with ``--channel``) a test message sent now.

Reads the sidecar's own configuration file (``--config`` or ``$NAPOPS_CONFIG``, with the same
environment overrides and secret files) and sends directly, bypassing the outbox, so the
operator sees the channel's answer at once. Without ``--channel`` nothing is sent: each
channel is probed (a TCP connection, the SMTP greeting) and reported as "not configured",
"configured, reachable" or "configured, UNREACHABLE (reason)". Exit 0 sent (or every configured
channel reachable), 1 the channel failed (or one is unreachable), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from ..core import config as configmod
from ..core.errors import ConfigError
from . import channels, reachability
from .errors import ChannelError
from .render import clock, render_notice
from .schema import CHANNELS, SECTION


def relay_test(args: argparse.Namespace) -> int:
    if not args.config:
        print("napops relay test: --config (or NAPOPS_CONFIG) is required", file=sys.stderr)
        return 2
    try:
        config = configmod.load(configmod.common_schema("relay", SECTION), args.config)
    except ConfigError as exc:
        print("napops relay test: invalid configuration:", file=sys.stderr)
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    section = config["relay"]
    if args.channel is None:
        probes = reachability.probe_all(section)
        for p in probes:
            print(p.line())
        configured = [p for p in probes if p.configured]
        if not configured:
            print("napops relay test: no channel is configured", file=sys.stderr)
            return 2
        return 0 if all(p.reachable for p in configured) else 1
    built = channels.build(section)
    if args.channel not in built:
        print(f"napops relay test: channel {args.channel} is not configured", file=sys.stderr)
        return 2
    now = time.time()
    notice = {
        "title": f"napops relay test message ({args.channel})",
        "text": f"Sent by 'napops relay test' from {platform.node()} at "
        f"{clock(now, section['timezone'], '%Y-%m-%d %H:%M:%S %Z')}. "
        "ทดสอบภาษาไทย: if you can read this, Thai text arrives intact.",
        "severity": "info",
        "status": "firing",
    }
    channel = built[args.channel]
    try:
        channel.send(render_notice(notice, []), {})
    except ChannelError as exc:
        print(f"FAILED: {args.channel}: {exc}")
        print(reachability.probe(args.channel, channels.configured(section)[args.channel]).line())
        return 1
    finally:
        channel.close()
    print(f"OK: test message sent via {args.channel}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    relay = sub.add_parser("relay", help="the alert relay (email and Rocket.Chat)")
    rsub = relay.add_subparsers(dest="relay_command", required=True)
    test = rsub.add_parser(
        "test",
        help="say which channels are configured and reachable; send a test with --channel",
        description="Without --channel: probe every channel (nothing is sent); exit 0 when "
        "every configured one is reachable, 1 when one is not. With --channel: send a test "
        "message; exit 0 sent, 1 refused. 2 on usage or configuration.",
    )
    test.add_argument("--channel", choices=CHANNELS, help="send a test message on this channel")
    test.add_argument(
        "--config",
        default=os.environ.get("NAPOPS_CONFIG"),
        help="the relay's YAML configuration (default: $NAPOPS_CONFIG)",
    )
    test.set_defaults(handler=relay_test)
