"""Backup strategies: plain modules with the same function names, found by name.

Every strategy has ``validate(item) -> problems``, ``preflight(engine, item)`` (raises when
the item cannot run: missing container or database, wrong credentials), ``parts(engine,
item)`` (the streams to store), ``manifest(engine, item)`` (what the drill compares) and
``restore(engine, item, target, fetch)``. Database strategies also have ``observe`` (the
manifest's counts read from any server) and ``scratch`` (a throwaway server of an image).
``hold(engine, item)``, when present, wraps the dump (stop and always restart).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..items import STRATEGIES


def get(name: str) -> ModuleType:
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})")
    return importlib.import_module(f"{__name__}.{name}")


def has(name: str, function: str) -> bool:
    return callable(getattr(get(name), function, None))
