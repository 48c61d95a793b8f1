"""A broken Compose file is refused by `docker compose config -q` with Compose's own message.

This is the estate side of `make up` refusing to start anything: each case works on a copy of
compose/ in a temporary folder (the real files are never touched) and breaks one stack in one
way: a YAML syntax error, an unknown key, a required variable missing from the env file. The
copy is rendered by the estate tool of the copy (compose/estate.py, as `make validate` does),
then given to compose/bin/stack-validate, the check `make up` runs first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from compose_render import COMPOSE
from estate import CLEAN_VARIABLES, Estate, Selection

from helpers import require_docker

STACK, ENV = "apps", "dev"


def copy_compose(tmp_path: Path) -> Path:
    target = tmp_path / "compose"
    shutil.copytree(COMPOSE, target, ignore=shutil.ignore_patterns("secrets", ".images.env"))
    return target


def syntax_error(compose: Path) -> None:
    path = compose / "stacks" / f"{STACK}.yml"
    path.write_text(
        path.read_text().replace("  backend:\n", "  backend:\n   image: [unclosed\n", 1)
    )


def unknown_key(compose: Path) -> None:
    path = compose / "stacks" / f"{STACK}.yml"
    path.write_text(path.read_text().replace("  backend:\n", "  backend:\n    imagee: typo\n", 1))


def missing_variable(compose: Path) -> None:
    path = compose / "env" / ENV / f"{STACK}.env"
    kept = [ln for ln in path.read_text().splitlines() if not ln.startswith("BACKEND_VERSION=")]
    path.write_text("\n".join(kept) + "\n")


CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "syntax-error": (syntax_error, ["yaml"]),
    "unknown-key": (unknown_key, ["imagee"]),
    "missing-variable": (missing_variable, ["BACKEND_VERSION", "set BACKEND_VERSION"]),
}


def test_the_unbroken_copy_renders(tmp_path: Path) -> None:
    require_docker()
    compose = copy_compose(tmp_path)
    proc = Estate(compose).run(Selection.stack(ENV, STACK), "config", "-q")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_compose_config_refuses_a_broken_stack(tmp_path: Path, case: str) -> None:
    require_docker()
    compose = copy_compose(tmp_path)
    breaker, expected = CASES[case]
    breaker(compose)
    proc = Estate(compose).run(Selection.stack(ENV, STACK), "config", "-q")
    assert proc.returncode != 0, f"{case}: docker compose config accepted the broken file"
    for text in expected:
        assert text.lower() in proc.stderr.lower(), f"{case}: {text!r} not in {proc.stderr!r}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_make_up_check_refuses_a_broken_stack(tmp_path: Path, case: str) -> None:
    """compose/bin/stack-validate (run first by `make up`) on the broken copy fails loudly."""
    require_docker()
    compose = copy_compose(tmp_path)
    validate = compose / "bin" / "stack-validate"
    if not validate.is_file():
        pytest.fail("compose/bin/stack-validate is missing: `make up` has no compose check")
    breaker, expected = CASES[case]
    breaker(compose)
    env = {
        **{k: v for k, v in os.environ.items() if k in CLEAN_VARIABLES},
        "ENV": ENV,
        "NAPOPS_STACKS": STACK,
        "NAPOPS_PROJECT": "napops-compose-test-broken",
    }
    proc = subprocess.run([str(validate)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0, f"{case}: stack-validate accepted the broken stack"
    assert "invalid" in proc.stderr and expected[0].lower() in proc.stderr.lower(), proc.stderr
