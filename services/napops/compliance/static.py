"""Workloads of the Compose files, rendered by the estate tool exactly as they would start.

The estate tool (compose/estate.py, standard library only) owns the Compose arguments; it is
loaded from the repository's compose folder (``--compose-dir``, ``$NAPOPS_COMPOSE_DIR``, or
./compose), so the audit checks the very model ``make up`` and a deployment start.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ..core.errors import NapopsError
from .workload import Workload, from_compose


class StaticError(NapopsError):
    """The Compose files cannot be found or rendered."""


def compose_dir(given: str | None = None) -> Path:
    path = Path(given or os.environ.get("NAPOPS_COMPOSE_DIR") or "compose").resolve()
    if not (path / "estate.py").is_file():
        raise StaticError(
            f"{path} has no estate.py: give --compose-dir (the repository's compose/)"
        )
    return path


def estate_module(directory: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("napops_estate_tool", directory / "estate.py")
    if spec is None or spec.loader is None:
        raise StaticError(f"cannot load {directory / 'estate.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


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
