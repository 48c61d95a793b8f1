"""Entry point of the compliance sidecar (container and compose hardening audit)."""

from __future__ import annotations

from ..core import sidecar

SECTION = None


def setup(ctx: sidecar.Context) -> None:
    ctx.engine()


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("compliance", None, setup, argv)
