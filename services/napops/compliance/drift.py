"""Drift: each running container compared with what the Compose files of its environment declare.

The expected side is the rendered model (``docker compose config --format json``) of every
Compose project; the actual side is ``docker inspect``. Compared per service: image,
environment (declared keys and values, and keys neither the file nor the image sets; values
are compared, never printed), mounts (target, kind, read-only), limits, hardening (user,
read-only root, capabilities, security options, privileged), labels declared in the file, and
networks. A container the deploy sidecar started as the new colour of a blue-green deploy
(label ``napops.deploy.color``) is compared with the image the deploy recorded
(``napops.deploy.image``), and a container still being gated (``napops.deploy.state=green``)
is not drift at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .workload import COMPOSE_PROJECT, COMPOSE_SERVICE, parse_bytes

DEPLOY_COLOR = "napops.deploy.color"
DEPLOY_IMAGE = "napops.deploy.image"
DEPLOY_STATE = "napops.deploy.state"


@dataclass
class Spec:
    image: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    mounts: set[tuple[str, str, bool]] = field(default_factory=set)
    memory: int = 0
    nano_cpus: int = 0
    pids: int = 0
    user: str = ""
    read_only: bool = False
    cap_add: set[str] = field(default_factory=set)
    cap_drop: set[str] = field(default_factory=set)
    security_opt: set[str] = field(default_factory=set)
    privileged: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    networks: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Difference:
    project: str
    service: str
    container: str
    field: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return dict(vars(self))


def _caps(items: Iterable[str] | None) -> set[str]:
    return {c.upper().removeprefix("CAP_") for c in items or []}


def _opts(items: Iterable[str] | None) -> set[str]:
    return {o.replace("=", ":") for o in items or []}


def expected(model: dict[str, Any]) -> dict[str, Spec]:
    """Service name -> Spec, from one rendered Compose model."""
    nets = model.get("networks") or {}
    out = {}
    for name, svc in (model.get("services") or {}).items():
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        env = svc.get("environment") or {}
        svc_nets = svc.get("networks") or {}
        if svc.get("network_mode"):
            net_names = set()
        elif not svc_nets:
            net_names = {(nets.get("default") or {}).get("name") or f"{model.get('name')}_default"}
        else:
            net_names = {(nets.get(n) or {}).get("name") or n for n in svc_nets}
        out[name] = Spec(
            image=str(svc.get("image", "")),
            environment={k: "" if v is None else str(v) for k, v in env.items()},
            mounts={
                (
                    str(v.get("target", "")).rstrip("/"),
                    str(v.get("type", "")),
                    bool(v.get("read_only")),
                )
                for v in svc.get("volumes") or []
            },
            memory=parse_bytes(limits.get("memory") or 0),
            nano_cpus=int(float(limits.get("cpus") or 0) * 1_000_000_000),
            pids=int(limits.get("pids") or 0),
            user=str(svc.get("user", "") or ""),
            read_only=svc.get("read_only") is True,
            cap_add=_caps(svc.get("cap_add")),
            cap_drop=_caps(svc.get("cap_drop")),
            security_opt=_opts(svc.get("security_opt")),
            privileged=bool(svc.get("privileged")),
            labels={k: str(v) for k, v in (svc.get("labels") or {}).items()},
            networks=net_names,
        )
    return out


def actual(attrs: dict[str, Any]) -> Spec:
    """A Spec from ``docker inspect`` of a container."""
    cfg, host = attrs.get("Config") or {}, attrs.get("HostConfig") or {}
    env = {}
    for item in cfg.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    tmpfs = {(t.rstrip("/"), "tmpfs", False) for t in (host.get("Tmpfs") or {})}
    return Spec(
        image=str(cfg.get("Image", "")),
        environment=env,
        mounts={
            (
                str(m.get("Destination", "")).rstrip("/"),
                str(m.get("Type", "")),
                not m.get("RW", True),
            )
            for m in attrs.get("Mounts") or []
        }
        | tmpfs,
        memory=int(host.get("Memory") or 0),
        nano_cpus=int(host.get("NanoCpus") or 0),
        pids=int(host.get("PidsLimit") or 0),
        user=str(cfg.get("User") or ""),
        read_only=bool(host.get("ReadonlyRootfs")),
        cap_add=_caps(host.get("CapAdd")),
        cap_drop=_caps(host.get("CapDrop")),
        security_opt=_opts(host.get("SecurityOpt")),
        privileged=bool(host.get("Privileged")),
        labels={k: str(v) for k, v in (cfg.get("Labels") or {}).items()},
        networks=set(((attrs.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
    )


def compare(
    want: Spec, have: Spec, image_env: dict[str, str], deployed_image: str | None = None
) -> list[tuple[str, str]]:
    """(field, detail) for every difference; ``image_env``: the image's own variables."""
    out: list[tuple[str, str]] = []
    wanted_image = deployed_image or want.image
    if have.image != wanted_image:
        out.append(("image", f"runs {have.image}, declared {wanted_image}"))
    for key, value in sorted(want.environment.items()):
        if key not in have.environment:
            out.append(("environment", f"{key} declared but not set"))
        elif have.environment[key] != value:
            out.append(("environment", f"{key} differs from the file"))
    extra = sorted(set(have.environment) - set(want.environment) - set(image_env))
    if extra:
        out.append(("environment", "set but not declared: " + ", ".join(extra)))
    tmpfs = {m for m in have.mounts if m[1] == "tmpfs"}
    missing = sorted(
        want.mounts
        - have.mounts
        - {m for m in want.mounts if m[1] == "tmpfs" and (m[0], "tmpfs", False) in tmpfs}
    )
    added = sorted(have.mounts - want.mounts - tmpfs)
    if missing:
        out.append(
            (
                "mounts",
                "declared, not mounted: "
                + ", ".join(f"{t} ({k}{', ro' if ro else ''})" for t, k, ro in missing),
            )
        )
    if added:
        out.append(
            (
                "mounts",
                "mounted, not declared: "
                + ", ".join(f"{t} ({k}{', ro' if ro else ''})" for t, k, ro in added),
            )
        )
    for name in ("memory", "nano_cpus", "pids"):
        w, h = getattr(want, name), getattr(have, name)
        if w and w != h:
            out.append(("limits", f"{name} is {h}, declared {w}"))
    for name in ("user", "read_only", "privileged"):
        w, h = getattr(want, name), getattr(have, name)
        if w != h and not (name == "user" and not w):
            out.append(("hardening", f"{name} is {h!r}, declared {w!r}"))
    for name in ("cap_add", "cap_drop", "security_opt"):
        w, h = getattr(want, name), getattr(have, name)
        if w != h:
            out.append(("hardening", f"{name} is {sorted(h)}, declared {sorted(w)}"))
    for key, value in sorted(want.labels.items()):
        if have.labels.get(key) != value:
            out.append(("labels", f"{key} is {have.labels.get(key)!r}, declared {value!r}"))
    if want.networks and want.networks != have.networks:
        out.append(("networks", f"on {sorted(have.networks)}, declared {sorted(want.networks)}"))
    return out


def drift(
    models: dict[str, dict[str, Any]],
    containers: list[dict[str, Any]],
    image_envs: dict[str, dict[str, str]],
) -> list[Difference]:
    """Differences of every container of the projects in ``models`` (project name -> model).

    ``containers`` are inspect documents; ``image_envs`` maps image ids to their variables.
    A declared service with no container in a project that runs is reported as not running.
    """
    wanted = {project: expected(model) for project, model in models.items()}
    seen: set[tuple[str, str]] = set()
    out: list[Difference] = []
    for attrs in containers:
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        project, service = labels.get(COMPOSE_PROJECT), labels.get(COMPOSE_SERVICE)
        if project not in wanted:
            continue
        name = str(attrs.get("Name", "")).lstrip("/")
        if labels.get(DEPLOY_STATE) == "green":
            continue  # a blue-green deploy's candidate, not yet live
        seen.add((project, service or ""))
        spec = wanted[project].get(service or "")
        if spec is None:
            out.append(
                Difference(project, service or name, name, "service", "runs but is not declared")
            )
            continue
        have = actual(attrs)
        deployed = labels.get(DEPLOY_IMAGE) if labels.get(DEPLOY_COLOR) else None
        env = image_envs.get(str(attrs.get("Image", "")), {})
        for fld, detail in compare(spec, have, env, deployed):
            out.append(Difference(project, service or name, name, fld, detail))
    for project, specs in wanted.items():
        if not any(p == project for p, _ in seen):
            continue  # that project does not run on this engine
        for service in sorted(specs):
            if (project, service) not in seen:
                out.append(Difference(project, service, "", "service", "declared but not running"))
    return out
