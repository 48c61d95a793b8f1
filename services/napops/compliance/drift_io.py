"""Where drift's two sides come from: rendered models (through the estate tool, or a file saved
from it for the sidecar, which has no Compose CLI) and the engine's containers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.dockerhost import DockerError, Engine
from ..core.estatetool import compose_dir, estate_module
from .drift import Difference, drift
from .static import StaticError
from .workload import COMPOSE_PROJECT


def render_models(
    directory: str | None, env: str, local: bool = False
) -> dict[str, dict[str, Any]]:
    """Project name -> rendered model: every stack of ``env`` as its host runs it, or the
    local stack of ``make up`` with ``local``. Raises StaticError."""
    path = compose_dir(directory)
    tool = estate_module(path)
    estate = tool.Estate(path)
    try:
        if local:
            selections = [tool.Selection.local_stack(env=env)]
        else:
            selections = [
                tool.Selection.stack(env, stack, host.name)
                for host in estate.hosts(env).values()
                for stack in host.stacks
            ]
        models = [estate.render(sel) for sel in selections]
    except Exception as exc:  # noqa: BLE001 - the estate tool's error says what and where
        raise StaticError(f"the Compose files of {env} do not render: {exc}") from None
    return {str(m.get("name")): m for m in models}


def load_models(path: str | Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StaticError(f"cannot read the expected models {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise StaticError(f"{path}: expected an object of project name -> rendered model")
    return data


def engine_drift(engine: Engine, models: dict[str, dict[str, Any]]) -> list[Difference]:
    """Compare the engine's containers of those projects with the models. Raises DockerError."""
    inspected, image_envs = [], {}
    for attrs in engine.inspect_running({COMPOSE_PROJECT: None}):
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if labels.get(COMPOSE_PROJECT) not in models:
            continue
        inspected.append(attrs)
        image = attrs.get("Image", "")
        if image not in image_envs:
            try:
                cfg = engine.api.inspect_image(image).get("Config") or {}
            except Exception as exc:  # noqa: BLE001
                raise DockerError(f"inspect image {image}: {exc}") from None
            image_envs[image] = dict(item.partition("=")[::2] for item in cfg.get("Env") or [])
    return drift(models, inspected, image_envs)
