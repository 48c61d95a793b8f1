"""The estate tool (compose/estate.py), loaded from the repository's compose folder.

compose/estate.py is standard-library Python because `make up` runs before any virtualenv
exists; it owns the Compose arguments, environments, stacks, placement and networks. napops
commands that need the rendered estate (`napops audit`, `napops drift`, `napops estate`) load
it from ``--compose-dir``, ``$NAPOPS_COMPOSE_DIR`` or ./compose, so they see the very model
`make up` and a deployment start.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from .errors import NapopsError


class EstateToolError(NapopsError):
    """The compose folder or its estate tool cannot be found or loaded."""


def compose_dir(given: str | None = None) -> Path:
    """The compose folder: ``given``, else ``$NAPOPS_COMPOSE_DIR``, else ./compose."""
    path = Path(given or os.environ.get("NAPOPS_COMPOSE_DIR") or "compose").resolve()
    if not (path / "estate.py").is_file():
        raise EstateToolError(
            f"{path} has no estate.py: give --compose-dir (the repository's compose/)"
        )
    return path


def estate_module(directory: Path) -> ModuleType:
    """compose/estate.py of ``directory`` as a module."""
    spec = importlib.util.spec_from_file_location("napops_estate_tool", directory / "estate.py")
    if spec is None or spec.loader is None:
        raise EstateToolError(f"cannot load {directory / 'estate.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
