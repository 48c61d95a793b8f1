"""Every service of every stack, as rendered, follows the hardening rules or carries a waiver.

Rules (compose/common/hardening.yml gives them to every service): a non-root user, cap_drop
ALL (an added capability needs a `# waiver: cap_add ...` or `cap_drop` comment), no-new-privileges,
a read-only root filesystem, CPU, memory and pids limits, a real healthcheck, rotated logs, a
restart policy and a pinned image. Only the socket proxies may mount the Docker socket.
"""

from __future__ import annotations

from typing import Any

import pytest
from compose_render import COMPOSE, ENVS, STACKS, render
from waivers import waived_rules

from helpers import require_docker

ROOT_USERS = {"", "0", "root"}
CASES = [(stack, env) for stack in STACKS for env in ENVS]


def image_is_pinned(image: str) -> bool:
    """A digest, or a tag that names a version (not `latest`, not missing)."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.split(":", 1)[1]
    return tag != "latest" and any(ch.isdigit() for ch in tag)


def problems(name: str, svc: dict[str, Any], waived: set[str]) -> list[str]:
    """Every rule ``svc`` breaks without a waiver, as readable lines."""
    found = []
    user = str(svc.get("user", "")).split(":", 1)[0]
    if user in ROOT_USERS and "user" not in waived:
        found.append(f"user {svc.get('user')!r} is root (or unset) without a waiver")
    if "ALL" not in svc.get("cap_drop", []) and "cap_drop" not in waived:
        found.append("cap_drop lacks ALL")
    if svc.get("cap_add") and not {"cap_add", "cap_drop"} & waived:
        found.append(f"cap_add {svc['cap_add']} without a waiver comment")
    if "no-new-privileges:true" not in svc.get("security_opt", []):
        found.append("security_opt lacks no-new-privileges:true")
    if svc.get("read_only") is not True and "read_only" not in waived:
        found.append("root filesystem not read-only and no waiver")
    limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
    for key in ("cpus", "memory", "pids"):
        if not limits.get(key):
            found.append(f"no {key} limit")
    health = svc.get("healthcheck", {})
    test = health.get("test") or []
    if health.get("disable") or not test or test[0] == "NONE":
        found.append("no healthcheck")
    logging = svc.get("logging", {})
    opts = logging.get("options", {})
    if logging.get("driver") not in ("json-file", "local") or not opts.get("max-size"):
        found.append(f"logs not rotated: {logging}")
    restart = svc.get("restart") or svc.get("deploy", {}).get("restart_policy", {}).get("condition")
    if restart not in ("always", "unless-stopped", "on-failure", "any"):
        found.append(f"restart policy {restart!r}")
    if not image_is_pinned(str(svc.get("image", ""))):
        found.append(f"image {svc.get('image')!r} not pinned to a version or digest")
    mounts = [v.get("source", "") for v in svc.get("volumes", [])]
    if any("docker.sock" in m for m in mounts) and "socket-proxy" not in name:
        found.append("mounts the Docker socket (only the socket proxies may)")
    return [f"{name}: {p}" for p in found]


@pytest.mark.parametrize(("stack", "env"), CASES, ids=[f"{s}-{e}" for s, e in CASES])
def test_every_service_is_hardened_or_waived(stack: str, env: str) -> None:
    require_docker()
    model = render(stack, env)
    waived = waived_rules(
        [COMPOSE / "stacks" / f"{stack}.yml", COMPOSE / "env" / env / f"{stack}.yml"]
    )
    errors = [
        line
        for name, svc in model.get("services", {}).items()
        for line in problems(name, svc, waived.get(name, set()))
    ]
    assert not errors, f"{stack} ({env}):\n" + "\n".join(errors)


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("mariadb:11.4.4", True),
        ("registry.np-dms.work:5000/nap-dms/backend:1.2.3", True),
        ("nginx@sha256:" + "a" * 64, True),
        ("nginx:latest", False),
        ("nginx", False),
        ("registry.np-dms.work:5000/nap-dms/backend", False),
        ("grafana/alloy:stable", False),
    ],
)
def test_image_pinning_rule(image: str, pinned: bool) -> None:
    assert image_is_pinned(image) is pinned


def test_a_root_service_without_waiver_is_reported() -> None:
    svc = {"user": "0:0", "image": "x:1", "cap_drop": ["ALL"], "cap_add": ["NET_ADMIN"]}
    lines = problems("bad", svc, set())
    assert any("is root" in line for line in lines)
    assert any("cap_add" in line for line in lines)
    assert not any("is root" in line for line in problems("ok", svc, {"user"}))
