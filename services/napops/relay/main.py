"""Entry point of the relay sidecar (Alertmanager -> email and Rocket.Chat)."""

from __future__ import annotations

from pathlib import Path

from ..core import sidecar
from ..core.checks import writable_dir
from ..core.schema import Schema

SECTION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "state_dir": {
            "type": "string",
            "default": "/var/lib/napops/relay",
            "description": "Where the durable outbox lives.",
        },
    },
}


def setup(ctx: sidecar.Context) -> None:
    state = ctx.section["state_dir"]
    Path(state).mkdir(parents=True, exist_ok=True)
    ctx.ready_checks["state_dir"] = writable_dir(state)


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("relay", SECTION, setup, argv)
