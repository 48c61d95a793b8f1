"""Entry point of the relay sidecar (Alertmanager -> durable outbox -> email and Rocket.Chat)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core import sidecar
from ..core.checks import writable_dir
from . import app, channels, reachability
from .outbox import Outbox
from .schema import SECTION
from .service import Relay

__all__ = ["SECTION", "main", "setup"]


def open_outbox(section: dict[str, Any]) -> Outbox:
    """The outbox in ``state_dir`` (created when missing)."""
    state = Path(section["state_dir"])
    state.mkdir(parents=True, exist_ok=True)
    box = section["outbox"]
    return Outbox(state / "outbox.sqlite3", box["max_items"], box["dedup_window_seconds"])


def setup(ctx: sidecar.Context) -> None:
    section = ctx.section
    outbox = open_outbox(section)
    relay = Relay(section, outbox, channels.build(section), ctx.registry, audit=ctx.audit)
    app.register(ctx.app, relay, section["token"])
    ctx.ready_checks["state_dir"] = writable_dir(section["state_dir"])
    ctx.ready_checks["outbox"] = lambda: _outbox_readable(outbox)
    ctx.ready_checks["channels"] = lambda: _has_channels(relay)
    ctx.ready_checks["channels_reachable"] = reachability.ready_check(section)
    ctx.on_start.append(relay.start)
    ctx.on_shutdown += [relay.stop, outbox.close]


def _outbox_readable(outbox: Outbox) -> None:
    outbox.count()  # raises sqlite3.Error when the database is unusable


def _has_channels(relay: Relay) -> None:
    if not relay.channels:
        raise RuntimeError("no channel is configured (channels.email / channels.rocketchat)")


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("relay", SECTION, setup, argv)
