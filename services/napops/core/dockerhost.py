"""Docker access through docker-py. Hosts are configured, never implied."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping
from typing import Any

import docker


def client(config: Mapping[str, Any] | None = None) -> docker.DockerClient:
    """A client for ``docker.host`` in the config, else ``DOCKER_HOST``, else the local socket.

    ``ssh://`` hosts go through the ``ssh`` binary when there is one (its config, keys, agent
    and known_hosts apply), else through paramiko (the napops image has no ssh binary; mount
    the key and known_hosts at ~/.ssh). Either way the remote side runs
    ``docker system dial-stdio``. Raises docker.errors.DockerException when the engine cannot
    be reached.
    """
    cfg = dict(config or {})
    host = cfg.get("host") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    timeout = int(cfg.get("timeout_seconds", 10))
    ssh_binary = host.startswith("ssh://") and shutil.which("ssh") is not None
    return docker.DockerClient(base_url=host, timeout=timeout, use_ssh_client=ssh_binary)


class Engine:
    """A Docker client made on first use, so a sidecar starts (not ready) while its engine is
    away, and connects once the engine answers."""

    def __init__(self, config: Mapping[str, Any] | None = None):
        self._config = dict(config or {})
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = client(self._config)
            return self._client

    def ping(self) -> None:
        """Raise unless the engine answers ``/_ping``."""
        self.client.ping()


def require_engine(ctx: Any) -> None:
    """Sidecar setup step: ready only when the configured Docker Engine answers."""
    engine = Engine(ctx.config.get("docker"))
    ctx.ready_checks["docker"] = engine.ping
