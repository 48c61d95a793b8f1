"""Entry point of the certs sidecar (TLS certificate-expiry exporter)."""

from __future__ import annotations

from ..core import sidecar
from ..core.schema import Schema

SECTION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "targets": {
            "type": "array",
            "default": [],
            "description": "Endpoints (host:port) whose certificates are watched.",
            "items": {"type": "string", "pattern": r"^[^\s:]+:\d+$"},
        },
    },
}


def setup(ctx: sidecar.Context) -> None:
    """Nothing to wire yet."""


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("certs", SECTION, setup, argv)
