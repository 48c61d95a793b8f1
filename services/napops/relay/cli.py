"""``napops relay test --channel email|rocketchat``: send a test message now.

Reads the sidecar's own configuration file (``--config`` or ``$NAPOPS_CONFIG``, with the same
environment overrides and secret files) and sends directly, bypassing the outbox, so the
operator sees the channel's answer at once. Exit 0 sent, 1 the channel failed, 2 bad usage
or configuration.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from ..core import config as configmod
from ..core.errors import ConfigError
from . import channels
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
        help="send a test message on one channel",
        description="Exit 0 when sent, 1 when the channel refused it, 2 on usage/config.",
    )
    test.add_argument("--channel", required=True, choices=CHANNELS)
    test.add_argument(
        "--config",
        default=os.environ.get("NAPOPS_CONFIG"),
        help="the relay's YAML configuration (default: $NAPOPS_CONFIG)",
    )
    test.set_defaults(handler=relay_test)
