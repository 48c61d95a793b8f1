"""Render the estate's Compose files the way operators do, for the tests in this folder.

Every stack is rendered with ``docker compose config --format json`` from the committed files
only: base stack, the environment's overlay and env file. The process environment is reduced to
what the Docker CLI needs, so a variable exported in the developer's shell cannot hide a missing
one in an env file.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from helpers import ROOT

COMPOSE = ROOT / "compose"
STACKS = sorted(p.stem for p in (COMPOSE / "stacks").glob("*.yml"))
ENVS = sorted(p.name for p in (COMPOSE / "env").iterdir() if p.is_dir())

# `$$` is Compose's escape for a literal `$`; only unescaped references are variables.
VAR_REF = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


def clean_env() -> dict[str, str]:
    """The environment for `docker compose`: only what the CLI needs to find the engine."""
    keep = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT")
    return {k: v for k, v in os.environ.items() if k in keep}


def compose_args(stack: str, env: str, compose_dir: Path = COMPOSE) -> list[str]:
    """Arguments after `docker compose` that select one stack of one environment."""
    args = ["-f", str(compose_dir / "stacks" / f"{stack}.yml")]
    overlay = compose_dir / "env" / env / f"{stack}.yml"
    if overlay.is_file():
        args += ["-f", str(overlay)]
    env_file = compose_dir / "env" / env / f"{stack}.env"
    if env_file.is_file():
        args += ["--env-file", str(env_file)]
    return args


def run_config(
    args: list[str], *extra: str, shell: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker compose <args> config <extra>`; never starts anything. ``shell``: variables set
    in the shell, which win over the env file (as a host's `env` in compose/hosts.yml)."""
    return subprocess.run(
        ["docker", "compose", *args, "config", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean_env(), **(shell or {})},
    )


@functools.cache
def render(stack: str, env: str, shell: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """The rendered model of ``stack`` in ``env``; raises AssertionError with Compose's error.

    ``shell`` holds (name, value) pairs set in the shell for the run (a tuple, so the result
    can be cached).
    """
    proc = run_config(compose_args(stack, env), "--format", "json", shell=dict(shell))
    if proc.returncode != 0:
        raise AssertionError(f"{stack} ({env}) does not render:\n{proc.stderr}")
    return json.loads(proc.stdout)


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
