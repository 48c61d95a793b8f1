"""Workloads of the Compose files, rendered by the estate tool exactly as they would start.

The estate tool (compose/estate.py, standard library only) owns the Compose arguments; it is
loaded from the repository's compose folder (``--compose-dir``, ``$NAPOPS_COMPOSE_DIR``, or
./compose), so the audit checks the very model ``make up`` and a deployment start.
"""

from __future__ import annotations

import importlib.util
import os
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
    spec.loader.exec_module(module)
    return module


def from_model(model: dict[str, Any], stack: str) -> list[Workload]:
    """The services of one rendered model (``docker compose config --format json``)."""
    return [
        from_compose(name, svc, stack)
        for name, svc in sorted((model.get("services") or {}).items())
    ]


def workloads(
    directory: Path, envs: list[str] | None = None, stacks: list[str] | None = None
) -> dict[str, list[Workload]]:
    """Env -> every service of every stack of that env, rendered. Raises StaticError."""
    tool = estate_module(directory)
    estate = tool.Estate(directory)
    out: dict[str, list[Workload]] = {}
    for env in envs or estate.envs():
        found: list[Workload] = []
        for stack in stacks or estate.stacks():
            try:
                model = estate.render(tool.Selection.stack(env, stack))
            except Exception as exc:  # noqa: BLE001 - the tool's own error says why
                raise StaticError(f"{stack} ({env}) does not render: {exc}") from None
            found += from_model(model, stack)
        out[env] = found
    return out
