"""One shape for what a check looks at, whether it comes from a running container (Docker
inspect) or from a rendered Compose service (``docker compose config --format json``).

The same policy code then audits both: a service is caught before it runs, and a container
that drifted from its file is caught while it runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    kind: str  # bind, volume, tmpfs, npipe
    read_only: bool


@dataclass(frozen=True)
class Port:
    host_ip: str  # "" means every interface
    host_port: str
    container_port: str


@dataclass
class Workload:
    """A container or a Compose service, as the checks see it."""

    name: str  # the service (runtime: the Compose service label, else the container name)
    stack: str  # Compose project (runtime) or stack file (static)
    source: str  # "runtime" or "static"
    image: str
    env: str = ""  # static: the environment rendered; runtime: as configured
    user: str = ""
    image_user: str | None = None  # runtime: the image's configured user
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    read_only: bool = False
    memory_bytes: int = 0
    nano_cpus: int = 0
    pids_limit: int = 0
    healthcheck: bool = False
    health: str | None = None  # runtime: healthy, unhealthy, starting
    restart: str = ""
    network_mode: str = ""
    pid_mode: str = ""
    ipc_mode: str = ""
    uts_mode: str = ""
    mounts: list[Mount] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    log_driver: str = ""
    log_options: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    container: str = ""  # runtime container name

    @property
    def key(self) -> str:
        return f"{self.stack}/{self.name}"


# -- from Docker inspect -----------------------------------------------------------------------
def from_inspect(attrs: dict[str, Any], image_user: str | None = None) -> Workload:
    """A running (or stopped) container, from ``docker inspect`` output."""
    cfg, host = attrs.get("Config") or {}, attrs.get("HostConfig") or {}
    labels = cfg.get("Labels") or {}
    name = attrs.get("Name", "").lstrip("/")
    health = ((attrs.get("State") or {}).get("Health") or {}).get("Status")
    hc = cfg.get("Healthcheck") or {}
    test = hc.get("Test") or []
    log_cfg = host.get("LogConfig") or {}
    restart = (host.get("RestartPolicy") or {}).get("Name") or ""
    return Workload(
        name=labels.get(COMPOSE_SERVICE) or name,
        stack=labels.get(COMPOSE_PROJECT) or "",
        source="runtime",
        image=cfg.get("Image") or "",
        user=cfg.get("User") or "",
        image_user=image_user,
        privileged=bool(host.get("Privileged")),
        cap_add=list(host.get("CapAdd") or []),
        cap_drop=list(host.get("CapDrop") or []),
        security_opt=list(host.get("SecurityOpt") or []),
        read_only=bool(host.get("ReadonlyRootfs")),
        memory_bytes=int(host.get("Memory") or 0),
        nano_cpus=int(host.get("NanoCpus") or 0) or _quota_cpus(host),
        pids_limit=int(host.get("PidsLimit") or 0),
        healthcheck=bool(test) and test[0] != "NONE",
        health=health,
        restart="" if restart == "no" else restart,
        network_mode=host.get("NetworkMode") or "",
        pid_mode=host.get("PidMode") or "",
        ipc_mode=host.get("IpcMode") or "",
        uts_mode=host.get("UTSMode") or "",
        mounts=[
            Mount(
                m.get("Source", ""),
                m.get("Destination", ""),
                m.get("Type", ""),
                not m.get("RW", True),
            )
            for m in attrs.get("Mounts") or []
        ],
        ports=[
            Port(b.get("HostIp", ""), b.get("HostPort", ""), cport)
            for cport, binds in ((host.get("PortBindings") or {}).items())
            for b in binds or []
        ],
        log_driver=log_cfg.get("Type") or "",
        log_options=dict(log_cfg.get("Config") or {}),
        environment=_env_list(cfg.get("Env") or []),
        container=name,
    )


def _quota_cpus(host: dict[str, Any]) -> int:
    quota, period = int(host.get("CpuQuota") or 0), int(host.get("CpuPeriod") or 0)
    return quota * 1_000_000_000 // period if quota > 0 and period > 0 else 0


def _env_list(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


# -- from a rendered Compose service -----------------------------------------------------------
_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_bytes(value: Any) -> int:
    """Compose sizes: an integer of bytes, or "256M", "1.5g", "512mb"."""
    if isinstance(value, (int, float)):
        return int(value)
    m = re.fullmatch(r"\s*([\d.]+)\s*([bkmgt]?)b?\s*", str(value).lower())
    if not m:
        return 0
    return int(float(m.group(1)) * _UNITS[m.group(2) or "b"])


def from_compose(name: str, svc: dict[str, Any], stack: str, env: str = "") -> Workload:
    """One service of ``docker compose config --format json`` output."""
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    health = svc.get("healthcheck") or {}
    test = health.get("test") or []
    logging = svc.get("logging") or {}
    restart = svc.get("restart") or ((svc.get("deploy") or {}).get("restart_policy") or {}).get(
        "condition", ""
    )
    variables = svc.get("environment") or {}
    if isinstance(variables, list):
        variables = _env_list(variables)
    return Workload(
        name=name,
        stack=stack,
        source="static",
        image=str(svc.get("image", "")),
        env=env,
        user=str(svc.get("user", "") or ""),
        privileged=bool(svc.get("privileged")),
        cap_add=list(svc.get("cap_add") or []),
        cap_drop=list(svc.get("cap_drop") or []),
        security_opt=list(svc.get("security_opt") or []),
        read_only=svc.get("read_only") is True,
        memory_bytes=parse_bytes(limits.get("memory") or svc.get("mem_limit") or 0),
        nano_cpus=int(float(limits.get("cpus") or svc.get("cpus") or 0) * 1_000_000_000),
        pids_limit=int(limits.get("pids") or svc.get("pids_limit") or 0),
        healthcheck=bool(test) and test[0] != "NONE" and not health.get("disable"),
        restart="" if restart == "no" else str(restart),
        network_mode=str(svc.get("network_mode", "") or ""),
        pid_mode=str(svc.get("pid", "") or ""),
        ipc_mode=str(svc.get("ipc", "") or ""),
        uts_mode=str(svc.get("uts", "") or ""),
        mounts=[
            Mount(
                str(v.get("source", "")),
                str(v.get("target", "")),
                str(v.get("type", "")),
                bool(v.get("read_only")),
            )
            for v in svc.get("volumes") or []
        ],
        ports=[
            Port(
                str(p.get("host_ip", "") or ""),
                str(p.get("published", "") or ""),
                str(p.get("target", "")),
            )
            for p in svc.get("ports") or []
            if p.get("published")
        ],
        log_driver=str(logging.get("driver", "") or ""),
        log_options={k: str(v) for k, v in (logging.get("options") or {}).items()},
        environment={k: "" if v is None else str(v) for k, v in variables.items()},
    )
