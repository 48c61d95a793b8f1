"""The certbot loop's report reaches Prometheus through the node exporter of its own host.

The edge stack (certbot) and the agents stack (node exporter) are separate Compose projects on
the QNAP: the loop writes napops_certbot.prom into a volume that the agents stack owns and the
edge stack mounts as external, under the same name, and the node exporter reads that folder as
its textfile directory. Checked on the rendered stacks of every environment and host that runs
the edge, as compose/hosts.yml places them.
"""

from __future__ import annotations

from typing import Any

import pytest
from compose_render import ESTATE, render

EDGE_HOSTS = [
    (env, name, host.stacks)
    for env in ESTATE.envs()
    for name, host in ESTATE.hosts(env).items()
    if "edge" in host.stacks
]


def mount(service: dict[str, Any], target: str) -> dict[str, Any]:
    found = [v for v in service.get("volumes", []) if v.get("target") == target]
    assert len(found) == 1, f"no single mount at {target}: {service.get('volumes')}"
    return found[0]


def flag(argv: list[str], name: str) -> str:
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"{name}=")]
    assert len(values) == 1, f"{name} not set once in {argv}"
    return values[0]


@pytest.mark.parametrize(("env", "host", "stacks"), EDGE_HOSTS)
def test_certbot_writes_where_the_node_exporter_of_its_host_reads(
    env: str, host: str, stacks: tuple[str, ...]
) -> None:
    assert "agents" in stacks and stacks.index("agents") < stacks.index("edge"), (
        f"{env}/{host}: the agents stack owns the textfile volume and must start before edge"
    )
    agents, edge = render("agents", env, host), render("edge", env, host)
    node = agents["services"]["node-exporter"]
    directory = flag(node["command"], "--collector.textfile.directory")
    node_mount = mount(node, directory)
    assert node_mount.get("read_only") is True
    certbot = edge["services"]["certbot"]
    textfile = certbot["environment"].get("CERTBOT_TEXTFILE", "/textfile/napops_certbot.prom")
    folder, _, name = textfile.rpartition("/")
    assert name.endswith(".prom"), "the collector reads *.prom only"
    certbot_mount = mount(certbot, folder)
    assert not certbot_mount.get("read_only")
    owned = agents["volumes"][node_mount["source"]]
    used = edge["volumes"][certbot_mount["source"]]
    assert owned["name"] == used["name"], "one volume, seen by both projects"
    assert not owned.get("external") and used.get("external") is True
    assert owned["name"] == f"napops-{env}-node-textfile"


def test_the_loop_default_is_the_mounted_folder() -> None:
    """certbot-loop.sh's default CERTBOT_TEXTFILE is where the stack mounts the volume (the
    stack sets no CERTBOT_TEXTFILE, so the default is what runs)."""
    loop = (ESTATE.dir / "config" / "edge" / "certbot-loop.sh").read_text()
    assert "TEXTFILE=${CERTBOT_TEXTFILE:-/textfile/napops_certbot.prom}" in loop
