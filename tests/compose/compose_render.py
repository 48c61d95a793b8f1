"""The estate's Compose files as the estate tool renders them, for the tests in this folder.

Nothing here builds Compose arguments or an environment: compose/estate.py does, for these
tests exactly as for `make validate`, `make up` and `make secrets` (committed files only: base
stack, the environment's overlay and env file, in the tool's clean environment). What stays
here is what only tests need: the lists as constants and reading env files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from estate import COMPOSE_DIR, Estate, Selection

COMPOSE = COMPOSE_DIR
ESTATE = Estate()  # renders are cached per selection for the whole test run
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
