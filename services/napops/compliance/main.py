"""Entry point of the compliance sidecar (container and compose hardening audit)."""

from __future__ import annotations

from ..core import dockerhost, sidecar


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("compliance", None, dockerhost.require_engine, argv)
