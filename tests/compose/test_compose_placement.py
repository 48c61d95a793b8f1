"""compose/hosts.yml places every stack of every environment, and names the networks it needs.

Rules: every stack runs on exactly one host per environment, except `agents`, which runs on
every host; every host has a DOCKER_HOST URL; the external networks a host's stacks use are
exactly those the host lists (so they can be created before the stacks start), and a host's
`env` sets only documented variables. Whether the placed stacks can reach each other is
test_cross_host_reachability.py.
"""

from __future__ import annotations

import re

import pytest
from compose_render import COMPOSE, ENVS, STACKS, render
from estate_model import placement

from helpers import require_docker

EVERY_HOST = {"agents"}
DOCKER_HOST_URL = re.compile(r"^(unix|ssh|tcp)://\S+$")


def test_every_environment_is_placed() -> None:
    assert sorted(placement()) == ENVS


@pytest.mark.parametrize("env", ENVS)
def test_every_stack_runs_where_it_should(env: str) -> None:
    hosts = placement()[env]
    for name, host in hosts.items():
        assert DOCKER_HOST_URL.match(host.docker_host), f"{env}/{name}: bad docker_host"
        unknown = set(host.stacks) - set(STACKS)
        assert not unknown, f"{env}/{name}: no such stacks {sorted(unknown)}"
    for stack in STACKS:
        on = [name for name, host in hosts.items() if stack in host.stacks]
        expected = len(hosts) if stack in EVERY_HOST else 1
        assert len(on) == expected, f"{env}: {stack} runs on {on or 'no host'}"


@pytest.mark.parametrize("env", ENVS)
def test_hosts_list_the_external_networks_their_stacks_use(env: str) -> None:
    require_docker()
    for name, host in placement()[env].items():
        used = {
            net["name"]
            for stack in host.stacks
            for net in render(stack, env, name).get("networks", {}).values()
            if net.get("external")
        }
        listed = set(host.networks) | set(host.internal_networks)
        assert used == listed, f"{env}/{name}: stacks use {sorted(used)}"


@pytest.mark.parametrize("env", ENVS)
def test_host_variables_are_documented(env: str) -> None:
    documented = (COMPOSE / "env" / env / ".env.example").read_text("utf-8")
    for name, host in placement()[env].items():
        for var in host.env:
            assert re.search(rf"^#?\s*{var}=", documented, re.M), f"{env}/{name}: {var}"


@pytest.mark.parametrize("env", ENVS)
def test_every_placed_stack_is_a_project_of_its_own(env: str) -> None:
    """`napops-<env>-<stack>`, from the stack file's `name:`. Without one, Compose names the
    project after the folder (`stacks`): every such stack of a host would be one project, and
    `down` of one would remove the others; backup's and compliance's `napops-<env>-*` globs
    would not match them."""
    require_docker()
    for name, host in placement()[env].items():
        for stack in host.stacks:
            got = render(stack, env, name).get("name")
            assert got == f"napops-{env}-{stack}", f"{env}/{name}/{stack}: project {got!r}"
