"""compose/bin/stack-down refuses bad arguments and, outside dev, deleting data without
CONFIRM=yes, before it touches the engine (so nothing here needs Docker: a refusal must come
first)."""

from __future__ import annotations

import os
import subprocess

import pytest

from helpers import ROOT

SCRIPT = ROOT / "compose" / "bin" / "stack-down"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("ENV", "CONFIRM")}
    # an engine address that answers nothing: reaching it would fail with another status
    environ |= {"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///nonexistent.sock", **env}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=environ, timeout=30
    )


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_purge_outside_dev_needs_confirm(env: str) -> None:
    proc = run("--purge", ENV=env, NAPOPS_PROJECT="napops-test-never-started")
    assert proc.returncode == 2
    assert f"refusing to delete the data of {env} without CONFIRM=yes" in proc.stderr


@pytest.mark.parametrize("args", [["--prune"], ["--purge", "extra"], ["purge"]])
def test_unknown_arguments_are_refused(args: list[str]) -> None:
    proc = run(*args, ENV="dev", NAPOPS_PROJECT="napops-test-never-started")
    assert proc.returncode == 2
    assert "usage: stack-down [--purge]" in proc.stderr
