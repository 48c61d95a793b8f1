"""Entry point of the backup sidecar (scheduled restic backups, verification, restore drills)."""

from __future__ import annotations

from ..core import sidecar

SECTION = None


def setup(ctx: sidecar.Context) -> None:
    ctx.engine()


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("backup", None, setup, argv)
