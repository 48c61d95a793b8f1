"""Paths into nested YAML/JSON documents, for comparing rendered Compose models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Path = tuple[str, ...]


def leaves(doc: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) below ``doc``; mappings are walked, lists and scalars are leaves.

    Lists stop the walk because Compose normalises their items (short port syntax, list-form
    environment) so item positions in a source file do not match the rendered model.
    """
    if isinstance(doc, dict) and doc:
        for key, value in doc.items():
            yield from leaves(value, (*prefix, str(key)))
    else:
        yield prefix, doc


def differences(a: Any, b: Any, prefix: Path = ()) -> set[Path]:
    """Paths where ``a`` and ``b`` differ, as deep as both sides are mappings."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: set[Path] = set()
        for key in set(a) | set(b):
            if key not in a or key not in b:
                # a key on one side only: every leaf below it differs (so an overlay that
                # adds a mapping declares exactly the leaves it sets)
                side = a[key] if key in a else b[key]
                found |= {path for path, _ in leaves(side, (*prefix, str(key)))}
            else:
                found |= differences(a[key], b[key], (*prefix, str(key)))
        return found
    return set() if a == b else {prefix}


def covered(path: Path, prefixes: set[Path]) -> bool:
    """Whether ``path`` lies at or below one of ``prefixes``."""
    return any(path[: len(p)] == p for p in prefixes)


def show(path: Path) -> str:
    return ".".join(path) or "<root>"
