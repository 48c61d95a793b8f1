"""`make secrets-local` (what `make up` runs) asks secrets-gen for exactly the local stack's
stacks, as the estate tool names them."""

from __future__ import annotations

import os
import subprocess

import pytest

from helpers import ROOT, require_tool

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("stacks", "expected"),
    [(None, "monitoring agents napops watch"), ("monitoring napops", "monitoring napops")],
)
def test_secrets_local_names_the_local_stacks(stacks: str | None, expected: str) -> None:
    make = require_tool("make")
    env = {k: v for k, v in os.environ.items() if k != "NAPOPS_STACKS"}
    if stacks is not None:
        env["NAPOPS_STACKS"] = stacks
    out = subprocess.run(
        [make, "-s", "-n", "secrets-local"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == f'compose/bin/secrets-gen --env dev --stacks "{expected}"'
