"""Workloads of the Compose files, rendered by the estate tool exactly as they would start.

The estate tool (compose/estate.py, standard library only) owns the Compose arguments; it is
loaded from the repository's compose folder (``--compose-dir``, ``$NAPOPS_COMPOSE_DIR``, or
./compose), so the audit checks the very model ``make up`` and a deployment start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import NapopsError
from ..core.estatetool import compose_dir, estate_module
from .workload import Workload, from_compose


class StaticError(NapopsError):
    """The Compose files cannot be rendered."""


__all__ = ["StaticError", "compose_dir", "estate_module", "from_model", "workloads"]


def from_model(model: dict[str, Any], stack: str, env: str = "") -> list[Workload]:
    """The services of one rendered model (``docker compose config --format json``)."""
    services = sorted((model.get("services") or {}).items())
    return [from_compose(name, svc, stack, env) for name, svc in services]


def workloads(
    directory: Path, envs: list[str] | None = None, stacks: list[str] | None = None
) -> dict[str, list[Workload]]:
    """Env -> every service of every stack as each host of compose/hosts.yml runs it (with
    the host's ``env``), rendered by the estate tool. Raises StaticError."""
    tool = estate_module(directory)
    estate = tool.Estate(directory)
    out: dict[str, list[Workload]] = {}
    try:
        for env in envs or estate.envs():
            found: list[Workload] = []
            for host in estate.hosts(env).values():
                for stack in host.stacks:
                    if stacks and stack not in stacks:
                        continue
                    model = estate.render(tool.Selection.stack(env, stack, host.name))
                    found += from_model(model, stack, env)
            out[env] = found
    except Exception as exc:  # noqa: BLE001 - the estate tool's own error says what and where
        raise StaticError(f"the Compose files do not render: {exc}") from None
    return out
