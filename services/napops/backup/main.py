"""Entry point of the backup sidecar (scheduled restic backups, verification, restore drills)."""

from __future__ import annotations

from ..core import dockerhost, sidecar


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("backup", None, dockerhost.require_engine, argv)
