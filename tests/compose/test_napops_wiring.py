"""The backup and deploy sidecars get, in every environment as compose/hosts.yml places them,
what their shipped configuration (compose/config/napops/<sidecar>.yml plus the NAPOPS__*
variables of the rendered service) needs: every file it names is mounted, the configuration
passes the sidecar's schema, the engine it reaches is the one running the estate's services,
and each backup item and deployable service names a container that exists there.

Nothing is listed by hand: the files come from the configuration, the services from the
rendered stacks, the placement from compose/hosts.yml (through the estate tool).
"""

from __future__ import annotations

import copy
import fnmatch
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml
from compose_render import COMPOSE, ENVS, render
from estate import Estate as EstateTool
from estate import Host

from helpers import require_docker
from napops.backup.main import SECTION as BACKUP_SECTION
from napops.core import config as configmod
from napops.core.schema import validate
from napops.deploy.schema import SECTION as DEPLOY_SECTION

TOOL = EstateTool()
SCHEMAS = {"backup": BACKUP_SECTION, "deploy": DEPLOY_SECTION}
PROXY = "tcp://socket-proxy:2375"


def placed(env: str, stack: str) -> Host:
    (host,) = [h for h in TOOL.hosts(env).values() if stack in h.stacks]
    return host


def service(env: str, stack: str, name: str) -> dict[str, Any]:
    svc: dict[str, Any] = render(stack, env, placed(env, stack).name)["services"][name]
    return svc


def effective_config(env: str, sidecar: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the sidecar's configuration as it starts in ``env``, its rendered service)."""
    svc = service(env, "napops", sidecar)
    environ = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
    path = COMPOSE / "config" / "napops" / f"{sidecar}.yml"
    data = yaml.safe_load(path.read_text("utf-8"))
    return configmod.deep_merge(data, configmod.env_overrides(environ)), svc


def file_settings(node: Any, where: str = "") -> list[tuple[str, str]]:
    """(setting, path) of every ``*_file`` key and every value naming a file under
    /run/secrets or HOME, outside backup items' options (those are paths in other
    containers)."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            at = f"{where}.{key}" if where else str(key)
            if at.endswith(".options") and ".items[" in at:
                continue
            if isinstance(value, str) and (key.endswith("_file") or value.startswith("/run/")):
                found.append((at, value))
            else:
                found += file_settings(value, at)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += file_settings(value, f"{where}[{i}]")
    return found


def secret_targets(svc: dict[str, Any]) -> set[str]:
    return {
        str(PurePosixPath("/run/secrets", s.get("target") or s["source"]))
        for s in svc.get("secrets", [])
    }


def mount_targets(svc: dict[str, Any]) -> set[str]:
    return {v["target"] for v in svc.get("volumes", [])}


def engine_host(env: str, docker_host: str) -> Host:
    """The host whose engine ``docker_host`` (as the napops stack's sidecar sees it) is: the
    socket proxy of its own network is its own host's; ssh:// names a host of hosts.yml."""
    if docker_host == PROXY:
        return placed(env, "napops")
    (host,) = [h for h in TOOL.hosts(env).values() if h.docker_host == docker_host]
    return host


def projects_on(env: str, host: Host) -> dict[str, dict[str, Any]]:
    """Compose project name -> rendered model, of every stack placed on ``host``."""
    out = {}
    for stack in host.stacks:
        model = render(stack, env, host.name)
        out[model["name"]] = model
    return out


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("sidecar", ["backup", "deploy"])
def test_every_file_the_configuration_names_is_mounted_and_it_passes_the_schema(
    env: str, sidecar: str
) -> None:
    require_docker()
    cfg, svc = effective_config(env, sidecar)
    have = secret_targets(svc) | mount_targets(svc)
    unmounted = [f"{at}: {path}" for at, path in file_settings(cfg) if path not in have]
    assert not unmounted, f"{env}/{sidecar}: the configuration names files not mounted:\n" + (
        "\n".join(unmounted)
    )
    # the schema, with each secret file standing in for its value
    data = copy.deepcopy(cfg)
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in [k for k in node if k.endswith("_file") and k != "password_file"]:
                node[key[: -len("_file")]] = "x" * 32
                del node[key]
            stack += node.values()
        elif isinstance(node, list):
            stack += node
    problems = validate(data, configmod.common_schema(sidecar, SCHEMAS[sidecar]))
    assert not problems, f"{env}/{sidecar}:\n" + "\n".join(problems)


@pytest.mark.parametrize("env", ENVS)
def test_backup_has_its_password_its_repository_and_its_environment(env: str) -> None:
    require_docker()
    cfg, svc = effective_config(env, "backup")
    section = cfg["backup"]
    assert section["password_file"] in secret_targets(svc)
    assert any(s["source"] == "restic_password" for s in svc["secrets"])
    (repo,) = [v for v in svc["volumes"] if v["target"] == section["repository"]]
    assert section["environment"] == env
    assert svc["user"] == "65532:65532" and svc["environment"]["HOME"] == "/home/napops"
    if env == "prod":
        # the ASUSTOR's backup folder (contract §1: the restic repository under /volume1/backup)
        model = render("napops", env, placed(env, "napops").name)
        device = model["volumes"][repo["source"]]["driver_opts"]["device"]
        roots = placed(env, "napops").data_roots
        assert any(PurePosixPath(device).is_relative_to(r) for r in roots), (device, roots)
        assert PurePosixPath(device).is_relative_to("/volume1/backup")


@pytest.mark.parametrize("env", ENVS)
def test_every_backup_item_names_one_container_on_the_engine_the_backup_reaches(
    env: str,
) -> None:
    require_docker()
    cfg, svc = effective_config(env, "backup")
    section = cfg["backup"]
    host = engine_host(env, cfg["docker"]["host"])
    globs = [p.strip() for p in section["compose_project"].split(",") if p.strip()]
    models = {
        name: model
        for name, model in projects_on(env, host).items()
        if any(fnmatch.fnmatchcase(name, g) for g in globs)
    }
    problems = []
    for item in section["items"]:
        wanted = item["container"].removeprefix("compose:")
        where = [m["services"][wanted] for m in models.values() if wanted in m["services"]]
        if len(where) != 1:
            problems.append(f"{item['service']}: {len(where)} services {wanted!r} on {host.name}")
            continue
        target = where[0]
        options = item.get("options") or {}
        inside = options.get("password_container_file")
        if inside and inside not in secret_targets(target):
            problems.append(f"{item['service']}: {inside} is not a secret of {wanted}")
        for path in options.get("paths") or []:
            if not any(PurePosixPath(path).is_relative_to(t) for t in mount_targets(target)):
                problems.append(f"{item['service']}: {path} is on no volume of {wanted}")
    assert not problems, f"{env}: backup items that do not match the estate:\n" + "\n".join(
        problems
    )
    # the estate's data, by kind (contract §6.2): databases, Redis, files
    strategies = {i["strategy"] for i in section["items"]}
    assert {"mariadb", "postgres", "mongodb", "redis", "files"} <= strategies


def test_prod_backup_and_deploy_reach_the_qnap_over_ssh_with_their_own_key() -> None:
    require_docker()
    qnap = placed("prod", "data")
    backup, bsvc = effective_config("prod", "backup")
    deploy, dsvc = effective_config("prod", "deploy")
    assert backup["docker"]["host"] == qnap.docker_host
    assert deploy["deploy"]["environments"]["prod"]["docker"]["host"] == qnap.docker_host
    keys = {}
    for name, svc in (("backup", bsvc), ("deploy", dsvc)):
        home = svc["environment"]["HOME"]
        by_target = {s["target"]: s["source"] for s in svc["secrets"]}
        keys[name] = by_target[f"{home}/.ssh/id_ed25519"]
        assert f"{home}/.ssh/known_hosts" in by_target
    assert keys["backup"] != keys["deploy"]  # each key forced to its own proxy on the QNAP


@pytest.mark.parametrize("env", ENVS)
def test_deploy_reaches_the_hosts_of_its_environment_and_gitea_reaches_it(env: str) -> None:
    require_docker()
    cfg, svc = effective_config(env, "deploy")
    section = cfg["deploy"]
    environments = section.get("environments", {})
    if env in environments:
        target = environments[env]
        host = engine_host(env, (target.get("docker") or cfg["docker"])["host"])
        projects = projects_on(env, host)
        prefix = target.get("project_prefix", f"napops-{env}-")
        for name, spec in section["services"].items():
            project = prefix + spec["stack"]
            assert project in projects, f"{env}: {name}: project {project} not on {host.name}"
            wanted = spec.get("compose_service", name)
            assert wanted in projects[project]["services"], f"{env}: {name} not in {project}"
        assert target["edge"]["project"] in projects
    # Gitea posts to the receiver's published port; its webhook host list lets it
    ((published),) = [p for p in svc["ports"] if p["target"] == 8000]
    gitea = service(env, "gitea", "gitea")
    allowed = gitea["environment"]["GITEA__webhook__ALLOWED_HOST_LIST"].split(",")
    napops_host = placed(env, "napops")
    assert "private" in allowed or napops_host.address in allowed, allowed
    if env == "prod":
        assert napops_host.name != placed(env, "gitea").name
        # the ASUSTOR's LAN address from hosts.yml `env`, not every interface
        host_env = dict(napops_host.env)
        assert published["host_ip"] == host_env["OPS_BIND"] == napops_host.address
