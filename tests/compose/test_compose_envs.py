"""Environments differ only in what their overlays and env files declare.

For every stack and every pair of environments, the rendered models are compared. Each
difference must lie under a path that is *declared* as environment-specific, and every declared
difference must show up. Declared paths are computed from the files, never listed by hand:

- the paths an overlay file sets (compose/env/<env>/<stack>.yml);
- the paths of the base stack (and overlays) whose source text refers to a variable that the
  two environments' env files set to different values.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml
from compose_render import COMPOSE, ENVS, STACKS, VAR_REF, env_values, render
from tree_paths import Path, covered, differences, leaves, show

from helpers import require_docker

PAIRS = list(itertools.combinations(ENVS, 2))


def load_yaml(path: Any) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {} if path.is_file() else {}


def overlay(stack: str, env: str) -> dict[str, Any]:
    return load_yaml(COMPOSE / "env" / env / f"{stack}.yml")


def overlay_paths(stack: str, env: str) -> dict[Path, Any]:
    return dict(leaves(overlay(stack, env)))


def variable_paths(stack: str, envs: tuple[str, str]) -> dict[str, set[Path]]:
    """Variable name -> source paths (base and both overlays) whose text refers to it."""
    docs = [load_yaml(COMPOSE / "stacks" / f"{stack}.yml")] + [overlay(stack, e) for e in envs]
    found: dict[str, set[Path]] = {}
    for doc in docs:
        for path, value in leaves(doc):
            for match in VAR_REF.finditer(yaml.safe_dump(value)):
                found.setdefault(match.group(1) or match.group(2), set()).add(path)
    return found


def declared(stack: str, a: str, b: str) -> tuple[set[Path], set[str]]:
    """Paths allowed to differ between envs ``a`` and ``b``, and the variables that differ."""
    paths = set(overlay_paths(stack, a)) | set(overlay_paths(stack, b))
    va, vb = env_values(stack, a), env_values(stack, b)
    changed = {k for k in set(va) | set(vb) if va.get(k) != vb.get(k)}
    refs = variable_paths(stack, (a, b))
    for var in changed & set(refs):
        paths |= refs[var]
    if ("name",) in paths:
        # Compose names networks, volumes and secrets "<project>_<key>" unless the file does:
        # those names follow the (declared) project name.
        # (of both sides: an overlay may add a secret or volume only one environment has)
        for rendered in (render(stack, a), render(stack, b)):
            for kind in ("networks", "volumes", "secrets", "configs"):
                paths |= {(kind, key, "name") for key in rendered.get(kind, {})}
    return paths, changed & set(refs)


def covered_inside(path: Path, declared_paths: set[Path]) -> bool:
    """Whether an overlay declares something below ``path`` (it adds the whole key)."""
    return any(q[: len(path)] == path for q in declared_paths)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_differences_are_exactly_what_overlays_and_env_files_declare(
    stack: str, a: str, b: str
) -> None:
    require_docker()
    left, right = render(stack, a), render(stack, b)
    diff = differences(left, right)
    allowed, variables = declared(stack, a, b)
    # a service only one side has (dev's mail and chat sinks) is declared as a whole by the
    # overlay that adds it: all of its keys, those its `extends` brings included
    one_sided = set(left.get("services", {})) ^ set(right.get("services", {}))
    added = {("services", s) for s in one_sided if covered_inside(("services", s), allowed)}
    # likewise a secret, volume or network only one side's overlay adds (prod's ssh keys): its
    # `name` is Compose's, derived from the project
    for kind in ("secrets", "volumes", "networks"):
        for key in set(left.get(kind) or {}) ^ set(right.get(kind) or {}):
            if covered_inside((kind, key), allowed):
                added.add((kind, key))

    # a key one side lacks (a service only dev has) is declared when an overlay sets inside it
    undeclared = sorted(
        show(p)
        for p in diff
        if not covered(p, allowed) and not covered_inside(p, allowed) and tuple(p[:2]) not in added
    )
    assert not undeclared, f"{stack}: {a} and {b} differ where nothing declares it: {undeclared}"

    # Converse: a declared difference that does not show is a value the overlay or env file
    # fails to apply (for example a typo in a key that Compose then merges elsewhere).
    refs = variable_paths(stack, (a, b))
    for var in sorted(variables):
        assert any(covered(p, refs[var]) for p in diff), (
            f"{stack}: {var} differs between {a} and {b} but the rendered models do not"
        )
    oa, ob = overlay_paths(stack, a), overlay_paths(stack, b)
    for path in sorted(set(oa) & set(ob)):
        if oa[path] != ob[path]:
            assert any(covered(p, {path}) for p in diff), (
                f"{stack}: overlays set {show(path)} differently in {a} and {b}, "
                "but the rendered models agree"
            )


def test_every_stack_has_an_overlay_and_env_file_in_every_environment() -> None:
    missing = [
        f"compose/env/{env}/{stack}.{ext}"
        for env in ENVS
        for stack in STACKS
        for ext in ("yml", "env")
        if not (COMPOSE / "env" / env / f"{stack}.{ext}").is_file()
    ]
    assert not missing, f"missing overlay or env file: {missing}"


def test_the_comparison_notices_an_undeclared_difference() -> None:
    """The checker itself: a value that differs outside any declared path is reported."""
    base = {"services": {"db": {"image": "x:1", "deploy": {"limits": {"memory": "1G"}}}}}
    other = {"services": {"db": {"image": "x:2", "deploy": {"limits": {"memory": "2G"}}}}}
    diff = differences(base, other)
    allowed: set[Path] = {("services", "db", "deploy")}
    assert [show(p) for p in diff if not covered(p, allowed)] == ["services.db.image"]
