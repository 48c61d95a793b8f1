"""Entry point of the deploy sidecar (Gitea webhook receiver and blue-green deployer)."""

from __future__ import annotations

from ..core import sidecar

SECTION = None


def setup(ctx: sidecar.Context) -> None:
    ctx.engine()


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("deploy", None, setup, argv)
