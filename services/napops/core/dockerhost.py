"""Docker access through docker-py. Hosts are configured, never implied."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import docker


def client(config: Mapping[str, Any] | None = None) -> docker.DockerClient:
    """A client for ``docker.host`` in the config, else ``DOCKER_HOST``, else the local socket.

    ``ssh://`` hosts go through the ``ssh`` binary (keys and known_hosts as for any ssh).
    """
    cfg = dict(config or {})
    host = cfg.get("host") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    timeout = int(cfg.get("timeout_seconds", 10))
    return docker.DockerClient(
        base_url=host, timeout=timeout, use_ssh_client=host.startswith("ssh://")
    )


def ping_check(cli: docker.DockerClient) -> Any:
    """A readiness check that raises unless the engine answers ``/_ping``."""

    def check() -> None:
        cli.ping()

    return check


def require_engine(ctx: Any) -> None:
    """Sidecar setup step: ready only when the configured Docker Engine answers."""
    ctx.ready_checks["docker"] = ping_check(client(ctx.config.get("docker")))
