"""The estate tool runs Compose's plugin binary directly where the Docker CLI would find it.

Found where the Docker CLI looks, in its order ($DOCKER_CONFIG/cli-plugins, else
~/.docker/cli-plugins, then the system folders); `docker compose` when there is no plugin
file, and when there is no Docker CLI at all (so that a missing Docker is still reported as
such). And the point: run directly, the real plugin renders the local stack and each
environment's estate exactly as `docker compose` does, and refuses a broken file with the same
message. (Every selection `validate` checks rendered the same both ways when this was written;
rendering all of them twice took 40 s of the suite.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from compose_render import ENVS, ESTATE
from estate import Estate, Selection, compose_command

from helpers import require_docker


def _plugin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    plugin = directory / "docker-compose"
    plugin.write_text("#!/bin/sh\nexit 0\n")
    plugin.chmod(0o755)
    return plugin


@pytest.fixture
def path_with_docker(tmp_path: Path) -> str:
    """A PATH holding a `docker` (what it does is not asked: the lookup only needs it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "docker").chmod(0o755)
    return str(bin_dir)


def test_the_plugin_is_looked_for_where_the_docker_cli_looks(
    tmp_path: Path, path_with_docker: str
) -> None:
    home, config, system = tmp_path / "home", tmp_path / "config", tmp_path / "system"
    env = {"PATH": path_with_docker, "HOME": str(home)}
    assert compose_command("docker", env, [str(system)]) == ["docker", "compose"]

    in_system = _plugin(system)
    assert compose_command("docker", env, [str(system)]) == [str(in_system)]
    in_home = _plugin(home / ".docker" / "cli-plugins")
    assert compose_command("docker", env, [str(system)]) == [str(in_home)]
    # DOCKER_CONFIG moves the user's folder: ~/.docker is then not looked in
    env["DOCKER_CONFIG"] = str(config)
    assert compose_command("docker", env, [str(system)]) == [str(in_system)]
    in_config = _plugin(config / "cli-plugins")
    assert compose_command("docker", env, [str(system)]) == [str(in_config)]

    in_config.chmod(0o644)  # not executable: the Docker CLI would not run it either
    assert compose_command("docker", env, [str(system)]) == [str(in_system)]


def test_without_a_docker_cli_it_stays_docker_compose(tmp_path: Path) -> None:
    _plugin(tmp_path / "home" / ".docker" / "cli-plugins")
    env = {"PATH": str(tmp_path / "empty"), "HOME": str(tmp_path / "home")}
    assert compose_command("docker", env, []) == ["docker", "compose"]


def test_run_directly_the_real_plugin_renders_as_docker_compose_does(tmp_path: Path) -> None:
    require_docker()
    assert ESTATE.compose != ["docker", "compose"], "this machine's Compose plugin is not found"
    assert os.path.basename(ESTATE.compose[0]) == "docker-compose"

    def both(estate: Estate, sel: Selection, *command: str) -> list[tuple[int, str, str]]:
        env = estate.environment(sel)
        args = [*estate.args(sel), *command]
        return [
            (p.returncode, p.stdout, p.stderr)
            for p in (
                subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
                for argv in ([*estate.compose, *args], ["docker", "compose", *args])
            )
        ]

    # the local stack as `make up` starts it (every kind of argument: project, local images,
    # several stacks, the local variables) and the biggest estate stack of each environment
    local = Selection.local_stack()
    for sel in [local, *(Selection.stack(env, "data") for env in ENVS)]:
        direct, through_cli = both(ESTATE, sel, "config", "--format", "json")
        assert direct == through_cli and direct[0] == 0, sel

    broken_dir = tmp_path / "compose"
    shutil.copytree(ESTATE.dir, broken_dir, ignore=shutil.ignore_patterns("__pycache__"))
    stack = broken_dir / "stacks" / "data.yml"
    stack.write_text(stack.read_text() + "\nservices:\n  again: {image: x}\n")
    broken = Estate(broken_dir)
    direct, through_cli = both(broken, Selection.stack("prod", "data"), "config", "-q")
    assert direct == through_cli and direct[0] != 0 and direct[2], direct
