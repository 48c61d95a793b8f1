"""The estate's Compose files as the estate tool renders them, for the tests in this folder.

Nothing here builds Compose arguments or an environment: compose/estate.py does, for these
tests exactly as for `make validate`, `make up` and `make secrets` (committed files only: base
stack, the environment's overlay and env file, in the tool's clean environment). What stays
here is what only tests need: the lists as constants and reading env files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from estate import COMPOSE_DIR, Estate, Selection
from support.rundir import run_dir

COMPOSE = COMPOSE_DIR


class SharedRenders(Estate):
    """The estate tool, with each render also kept on disk for the other workers of the run.

    A render is `docker compose config` of the selection's arguments in its environment, so
    it is keyed by those and by the content of every file under compose/ (the files named in
    the arguments and those they extend or read); the workers rendered the same selections
    each (about 200 Compose runs per suite). A render that fails is not kept."""

    def __init__(self) -> None:
        super().__init__()
        self._files = _tree_digest(self.dir)
        self._shared = run_dir("renders")
        self._memo: dict[str, dict[str, Any]] = {}

    def render(self, sel: Selection, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        key = json.dumps(
            [self._files, self.args(sel), sorted(self.environment(sel, environ).items())]
        )
        if key in self._memo:
            return self._memo[key]
        path = self._shared / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
        try:
            model: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            model = super().render(sel, environ)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(model))
            tmp.replace(path)
        self._memo[key] = model
        return model


def _tree_digest(root: Path) -> str:
    """Names and contents of the files under ``root``; not the secrets (Compose reads only
    their paths, and their owners may not let this user read them)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and "__pycache__" not in rel.parts and rel.parts[0] != "secrets":
            digest.update(f"{rel}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


ESTATE = SharedRenders()  # renders are shared by the workers for the whole test run
STACKS = ESTATE.stacks()
ENVS = ESTATE.envs()

# `$$` is Compose's escape for a literal `$`; only unescaped references are variables.
VAR_REF = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


def render(stack: str, env: str, host: str | None = None) -> dict[str, Any]:
    """The rendered model of ``stack`` in ``env`` (as ``host`` of compose/hosts.yml runs it,
    with its `env`, when given); raises AssertionError with Compose's error."""
    try:
        return ESTATE.render(Selection.stack(env, stack, host))
    except Exception as exc:  # EstateError: its message is Compose's
        raise AssertionError(str(exc)) from None


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blanks skipped, one level of quotes off)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def env_values(stack: str, env: str) -> dict[str, str]:
    return read_env_file(COMPOSE / "env" / env / f"{stack}.env")
