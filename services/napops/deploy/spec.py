"""Green's container from blue's: pure functions over ``docker inspect`` documents.

Green gets everything blue was given (environment, command, labels, mounts, secrets, limits,
hardening, healthcheck, networks and their aliases) and the new image. What blue merely
inherited from ITS image (the image's ENV, CMD, labels, healthcheck, user...) is left out, so
the new image's own defaults apply. Green starts without the service's aliases: it is reachable
only by its own name until the switch gives it blue's aliases.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..core.errors import NapopsError

# HostConfig keys that name blue's own instance, not its configuration
_HOST_DROP = ("ContainerIDFile", "Links")


class SpecError(NapopsError):
    """Blue's configuration cannot be run twice side by side (e.g. a published host port)."""


@dataclass(frozen=True)
class Spec:
    name: str
    image: str
    config: dict[str, Any]  # the create body without HostConfig / NetworkingConfig
    host_config: dict[str, Any]
    networks: dict[str, list[str]]  # network -> aliases green gets at the switch
    first_network: str


def _env_map(env: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def own_env(container_env: list[str] | None, image_env: list[str] | None) -> list[str]:
    """Blue's environment less the entries that came unchanged from blue's image."""
    inherited = _env_map(image_env)
    return [
        item
        for item in container_env or []
        if item.partition("=")[0] not in inherited
        or inherited[item.partition("=")[0]] != item.partition("=")[2]
    ]


def own_labels(container: dict[str, str] | None, image: dict[str, str] | None) -> dict[str, str]:
    inherited = image or {}
    return {k: v for k, v in (container or {}).items() if inherited.get(k) != v}


def service_aliases(blue: dict[str, Any]) -> dict[str, list[str]]:
    """Per network, blue's aliases less its container name and its short id."""
    own = {blue["Name"].lstrip("/"), blue["Id"][:12]}
    out: dict[str, list[str]] = {}
    for net, ep in (blue["NetworkSettings"].get("Networks") or {}).items():
        out[net] = [a for a in ep.get("Aliases") or [] if a not in own]
    return out


def green_spec(blue: dict[str, Any], blue_image: dict[str, Any], image: str, name: str) -> Spec:
    """The container to create for ``image`` beside ``blue`` (inspect of blue and of its
    image). Raises SpecError when blue cannot have a twin."""
    cfg = blue["Config"]
    icfg = blue_image.get("Config") or {}
    host = copy.deepcopy(blue["HostConfig"])
    published = {p: b for p, b in (host.get("PortBindings") or {}).items() if b}
    if published:
        ports = ", ".join(sorted(published))
        raise SpecError(
            f"{blue['Name'].lstrip('/')} publishes host ports ({ports}): two copies cannot "
            "run side by side; give the service strategy recreate or serve it through the edge"
        )
    mode = str(host.get("NetworkMode") or "")
    if mode == "host" or mode.startswith("container:"):
        raise SpecError(f"network mode {mode!r} cannot be shared by two copies")
    for key in _HOST_DROP:
        host.pop(key, None)
    config: dict[str, Any] = {
        "Image": image,
        "Env": own_env(cfg.get("Env"), icfg.get("Env")),
        "Labels": own_labels(cfg.get("Labels"), icfg.get("Labels")),
        "Tty": cfg.get("Tty", False),
        "OpenStdin": cfg.get("OpenStdin", False),
        "StopSignal": cfg.get("StopSignal")
        if cfg.get("StopSignal") != icfg.get("StopSignal")
        else None,
        "StopTimeout": cfg.get("StopTimeout"),
        "Domainname": cfg.get("Domainname") or "",
    }
    for key in (
        "Cmd",
        "Entrypoint",
        "User",
        "WorkingDir",
        "Healthcheck",
        "ExposedPorts",
        "Volumes",
    ):
        value = cfg.get(key)
        if value and value != icfg.get(key):
            config[key] = value
    config = {k: v for k, v in config.items() if v is not None}
    networks = service_aliases(blue)
    first = mode if mode in networks else (sorted(networks)[0] if networks else mode)
    return Spec(name, image, config, host, networks, first)


def create_body(spec: Spec) -> dict[str, Any]:
    """The body of POST /containers/create for green: networks without service aliases."""
    body = dict(spec.config)
    host = dict(spec.host_config)
    if spec.networks:
        host["NetworkMode"] = spec.first_network
        body["NetworkingConfig"] = {"EndpointsConfig": {spec.first_network: {}}}
    body["HostConfig"] = host
    return body
