"""Each environment's .env.example documents every variable the stacks and overlays use."""

from __future__ import annotations

import re

import pytest
from compose_render import COMPOSE, ENVS, VAR_REF

DOCUMENTED = re.compile(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", re.M)


def used_variables() -> set[str]:
    files = [*(COMPOSE / "stacks").glob("*.yml"), *(COMPOSE / "env").glob("*/*.yml")]
    return {m.group(1) or m.group(2) for f in files for m in VAR_REF.finditer(f.read_text("utf-8"))}


@pytest.mark.parametrize("env", ENVS)
def test_env_example_documents_every_variable(env: str) -> None:
    example = COMPOSE / "env" / env / ".env.example"
    assert example.is_file(), f"missing {example.relative_to(COMPOSE.parent)}"
    documented = set(DOCUMENTED.findall(example.read_text("utf-8")))
    missing = sorted(used_variables() - documented)
    assert not missing, f"{env}/.env.example does not document: {missing}"


@pytest.mark.parametrize("env", ENVS)
def test_env_files_set_only_documented_variables(env: str) -> None:
    documented = set(DOCUMENTED.findall((COMPOSE / "env" / env / ".env.example").read_text()))
    for env_file in (COMPOSE / "env" / env).glob("*.env"):
        names = set(DOCUMENTED.findall(env_file.read_text("utf-8")))
        assert names <= documented, f"{env_file.name}: undocumented {sorted(names - documented)}"
