"""The estate tool (compose/estate.py, compose/bin/estate) is the one place that decides what
Compose is run with, and what `make validate` renders is what `make up` starts.

- compose/hosts.yml is read by the tool's own parser (stdlib only) exactly as PyYAML reads it,
  and what it cannot read, or a placement that is not one, is an `At '...'` error;
- the argument list: base stack, overlay, then env files, with the local images only for the
  local stack;
- the environment: nothing of the caller's shell but what the Docker CLI needs, the host's
  `env` of hosts.yml, and for the local stack only the documented LOCAL_VARIABLES;
- the scripts and make files call the tool; none builds a Compose command of its own.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from compose_render import COMPOSE, ENVS, ESTATE, STACKS
from estate import (
    CLEAN_VARIABLES,
    LOCAL_STACKS,
    LOCAL_VARIABLES,
    Estate,
    EstateError,
    Selection,
    parse_yaml_subset,
)

from helpers import ROOT, require_docker

TOOL = COMPOSE / "bin" / "estate"


def normalised(value: object) -> object:
    """PyYAML's result with every scalar a string, as the tool's parser gives them."""
    if isinstance(value, dict):
        return {str(k): normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, bool):
        return str(value).lower()  # the parser keeps `true` as written
    return None if value is None else str(value)


def test_hosts_yml_reads_as_pyyaml_reads_it() -> None:
    text = (COMPOSE / "hosts.yml").read_text("utf-8")
    assert parse_yaml_subset(text, "compose/hosts.yml") == normalised(yaml.safe_load(text))


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("a:\n\tb: 1\n", 2, "tab"),
        ("a: &anchor x\n", 1, "unsupported value"),
        ("a: 1\na: 2\n", 2, "appears twice"),
        ("a:\n  b: 1\n    c: 2\n", 3, "unexpected indentation"),
        ("a: [x, y\nb: z\n", 1, "a list that is never closed"),
        ("a: |\n  text\n", 1, "unsupported value"),
        ("just words\n", 1, "expected `key: value`"),
    ],
)
def test_what_the_parser_cannot_read_is_an_error_naming_the_line(
    text: str, line: int, reason: str
) -> None:
    with pytest.raises(EstateError) as err:
        parse_yaml_subset(text, "hosts.yml")
    assert str(err.value).startswith(f"At 'hosts.yml:{line}': "), err.value
    assert reason in str(err.value)


def test_the_parser_reads_what_hosts_yml_may_use() -> None:
    text = (
        "# comment\nenv:\n  list: [a, 'b c', \"d#e\"]  # trailing\n  empty: []\n  none: {}\n"
        "  block:\n  - x\n  - y\n  nested:\n    k: v\n  long: [one, two,\n         three]\n"
    )
    assert parse_yaml_subset(text) == {
        "env": {
            "list": ["a", "b c", "d#e"],
            "empty": [],
            "none": {},
            "block": ["x", "y"],
            "nested": {"k": "v"},
            "long": ["one", "two", "three"],
        }
    }


def scratch(tmp_path: Path, hosts: str) -> Estate:
    """A compose folder with two stacks in env dev, and ``hosts`` as its hosts.yml."""
    for stack in ("one", "two"):
        (tmp_path / "stacks").mkdir(exist_ok=True)
        (tmp_path / "stacks" / f"{stack}.yml").write_text("services: {}\n")
        (tmp_path / "env" / "dev").mkdir(parents=True, exist_ok=True)
        (tmp_path / "env" / "dev" / f"{stack}.env").write_text("NAPOPS_ENV=dev\n")
    (tmp_path / "env" / "dev" / "two.yml").write_text("services: {}\n")
    (tmp_path / ".images.env").write_text("X_IMAGE=local/x:1\n")
    (tmp_path / "hosts.yml").write_text(hosts)
    return Estate(tmp_path)


def test_a_placement_that_is_not_one_lists_every_problem(tmp_path: Path) -> None:
    estate = scratch(
        tmp_path,
        "environments:\n  dev:\n    hosts:\n      a:\n        stacks: []\n        colour: red\n"
        "      b:\n        docker_host: unix:///x.sock\n        stacks: [one]\n        env: [x]\n",
    )
    with pytest.raises(EstateError) as err:
        estate.hosts("dev")
    text = str(err.value)
    assert "At 'environments.dev.hosts.a': unknown keys ['colour']" in text
    assert "At 'environments.dev.hosts.a.docker_host': required" in text
    assert "At 'environments.dev.hosts.a.stacks': expected a non-empty list" in text
    assert "At 'environments.dev.hosts.b.env': expected a mapping" in text


def test_argument_order_and_local_images(tmp_path: Path) -> None:
    estate = scratch(tmp_path, "environments: {}\n")
    d = str(tmp_path)
    assert estate.args(Selection.stack("dev", "two")) == [
        "-f", f"{d}/stacks/two.yml", "-f", f"{d}/env/dev/two.yml",
        "--env-file", f"{d}/env/dev/two.env",
    ]  # fmt: skip
    local = Selection.local_stack({}, stacks=["one", "two"])
    assert estate.args(local) == [
        "--project-name", "napops-dev",
        "-f", f"{d}/stacks/one.yml", "-f", f"{d}/stacks/two.yml", "-f", f"{d}/env/dev/two.yml",
        "--env-file", f"{d}/.images.env",
        "--env-file", f"{d}/env/dev/one.env", "--env-file", f"{d}/env/dev/two.env",
    ]  # fmt: skip


def test_unknown_environment_or_stack_is_refused(tmp_path: Path) -> None:
    estate = scratch(tmp_path, "environments: {}\n")
    for env in ("nope", "../dev", ""):
        with pytest.raises(EstateError, match="unknown environment"):
            estate.args(Selection.stack(env, "one"))
    with pytest.raises(EstateError, match="no stack file compose/stacks/three.yml"):
        estate.args(Selection.stack("dev", "three"))


def test_the_shell_reaches_compose_only_through_the_documented_variables() -> None:
    shell = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "DOCKER_HOST": "unix:///nowhere.sock",
        "BACKEND_VERSION": "from-my-shell",  # would hide a missing env file value
        "NAPOPS_ENV": "prod",
        "PROMETHEUS_PORT": "19090",
        "NAPOPS_STACKS": "monitoring",
    }
    estate_env = ESTATE.environment(Selection.stack("dev", "apps"), shell)
    assert estate_env == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "DOCKER_HOST": "unix:///nowhere.sock",
        "NAPOPS_ENV": "dev",
    }
    local = Selection.local_stack(shell)
    assert local.stacks == ("monitoring",) and local.project == "napops-dev"
    local_env = ESTATE.environment(local, shell)
    assert local_env == {  # no socket at that path: no DOCKER_SOCKET_GID
        **estate_env,
        "PROMETHEUS_PORT": "19090",
        # the local project's own volume, not the environment's (parallel local stacks)
        "NODE_TEXTFILE_VOLUME": "napops-dev-node-textfile",
        "OPS_PREFIX": "napops-dev",  # its shared networks and audit volume
    }
    other = Selection.local_stack({**shell, "NAPOPS_PROJECT": "mine-dev"})
    assert ESTATE.environment(other, shell)["NODE_TEXTFILE_VOLUME"] == "mine-dev-node-textfile"
    assert ESTATE.environment(other, shell)["OPS_PREFIX"] == "mine-dev"
    on_qnap = ESTATE.environment(Selection.stack("prod", "agents", "qnap"), shell)
    assert on_qnap["NAPOPS_HOST"] == "qnap" and on_qnap["NAPOPS_ENV"] == "prod"
    assert set(on_qnap) - set(CLEAN_VARIABLES) == {"NAPOPS_ENV", *ESTATE.host("prod", "qnap").env}


def test_every_local_variable_is_one_the_local_stacks_use() -> None:
    sources = " ".join(
        path.read_text("utf-8")
        for stack in LOCAL_STACKS
        for path in (COMPOSE / "stacks" / f"{stack}.yml", COMPOSE / "env" / "dev" / f"{stack}.yml")
        if path.is_file()
    )
    unused = [name for name in LOCAL_VARIABLES if f"${{{name}" not in sources]
    assert unused == []
    # and the converse: every published port or mounted folder of the local stack can be moved
    # from the shell (tests run stacks side by side on free ports)
    movable = set(re.findall(r"\$\{([A-Z_]+_(?:PORT|DIR))\b", sources))
    assert sorted(movable - set(LOCAL_VARIABLES)) == []


def test_validate_renders_the_selection_make_up_starts() -> None:
    local = Selection.local_stack({"ENV": "dev", "NAPOPS_PROJECT": "p"})
    checks = ESTATE.checks(["dev"], local=local)
    assert local in checks  # the very selection `estate compose --local` runs
    assert {s.stacks[0] for s in checks if not s.local} == set(STACKS)
    prod = ESTATE.checks(["prod"])
    placed_with_env = {(s.stacks[0], s.host) for s in prod if s.host}
    assert ("agents", "qnap") in placed_with_env  # rendered with the host's env too


# A command that runs Compose: `docker compose ...` where a shell command starts (not in a
# comment or a message), or ["docker", "compose", ...] in Python. `docker compose version` is
# a check that Compose is installed, not a use.
OWN_COMPOSE = re.compile(
    r"""(?:^[ \t]*|[;&|(!][ \t]*|\b(?:then|do)[ \t]+|\$\()docker[ \t]+compose\b(?![ \t]+version)"""
    r"""|["']docker["'],\s*["']compose["'],\s*(?!["']version)""",
    re.M,
)


def test_no_script_or_make_file_builds_a_compose_command_of_its_own() -> None:
    files = [*sorted((COMPOSE / "bin").iterdir()), ROOT / "Makefile", *(ROOT / "mk").glob("*.mk")]
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in files
        if path.is_file() and path.name != "estate"
        for line in path.read_text("utf-8").splitlines()
        if not line.lstrip().startswith("#") and OWN_COMPOSE.search(line)
    ]
    assert offenders == []


def test_the_compose_command_check_finds_one() -> None:
    for line in (
        "docker compose -f x.yml up",
        "  out=$(docker compose config)",
        '["docker", "compose", "-f"]',
    ):
        assert OWN_COMPOSE.search(line), line
    for line in ("# docker compose up", "echo 'use `docker compose ps`'", "docker compose version"):
        assert not OWN_COMPOSE.search(line), line


def tool(*args: str, compose_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--compose-dir", str(compose_dir)] if compose_dir else []
    return subprocess.run(
        [sys.executable, str(TOOL), *extra, *args], capture_output=True, text=True, timeout=120
    )


def test_command_line_lists() -> None:
    assert tool("envs").stdout.split() == ENVS
    assert tool("stacks").stdout.split() == STACKS
    assert tool("stacks", "--env", "prod", "--host", "asustor").stdout.split() == list(
        ESTATE.host("prod", "asustor").stacks
    )
    lines = tool("networks", "--env", "dev").stdout.splitlines()
    assert "local\tunix:///var/run/docker.sock\tnapops-dev-probe\ttrue" in lines
    bad = tool("hosts", "--env", "nope")
    assert bad.returncode == 2 and "unknown environment 'nope'" in bad.stderr


def test_command_line_validate_names_the_broken_stack(tmp_path: Path) -> None:
    require_docker()
    copy = tmp_path / "compose"
    shutil.copytree(COMPOSE, copy, ignore=shutil.ignore_patterns("secrets", ".images.env"))
    path = copy / "stacks" / "registry.yml"
    path.write_text(path.read_text() + "\nbogus_top_level_key: 1\n")
    proc = tool("validate", "--env", "staging", "--no-local", compose_dir=copy)
    assert proc.returncode == 1
    assert "error: compose/stacks/registry.yml (env staging) is invalid" in proc.stderr
    assert "bogus_top_level_key" in proc.stderr


def test_command_line_render_is_the_estate_model() -> None:
    require_docker()
    proc = tool(
        "render", "--env", "prod", "--stack", "agents", "--host", "qnap", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ESTATE.render(Selection.stack("prod", "agents", "qnap"))
