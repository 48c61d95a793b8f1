"""The estate as its containers see it: per environment, which services run on which host, the
networks they share there, the ports they listen on and the ports each host publishes.

Built from compose/hosts.yml and the stacks rendered per host, both as the estate tool
(compose/estate.py) reads and renders them: each stack with its host's `env`. ``Estate.reach``
answers "can this container open name:port?" the way Docker networking decides it:

- ``name`` is a service (or network alias) on a network the container joins, ON THE SAME HOST,
  and the service listens on ``port`` (`expose`, `ports` or IMAGE_PORTS);
- ``name`` is a host of the environment (its key in hosts.yml or the hostname of its
  docker_host) or a public site of the edge, and that host publishes ``port`` on a non-loopback
  address, from a service on a non-internal network, or a daemon of the host listens there
  (HOST_DAEMON_PORTS); the container itself needs a non-internal network to get there.

Nothing else answers: a service on a network the container does not join (or on the other
host), a port published on 127.0.0.1 (loopback in a container is the container's own).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from compose_render import COMPOSE, ESTATE, render
from estate import Host as Placed

EDGE_TEMPLATES = COMPOSE / "config" / "edge" / "templates"
# `http://${OPS_HOST}:${GRAFANA_PORT}` in a site template: the port's variable
OPS_UPSTREAM = re.compile(r"http://\$\{OPS_HOST\}:\$\{(\w+)\}")

# Ports images listen on where our stacks declare no `expose` (the image's documented default).
IMAGE_PORTS: dict[str, set[int]] = {
    "mariadb": {3306},
    "redis": {6379},
    "elasticsearch": {9200},
    "postgres": {5432},
    "tika": {9998},
    "mongo": {27017},
    "clamav": {3310},
    "backend": {3000},  # PORT in compose/stacks/apps.yml
}

# Ports a host listens on outside Compose.
HOST_DAEMON_PORTS: dict[int, str] = {
    9323: "dockerd metrics-addr (/etc/docker/daemon.json, docs/runbooks/monitoring.md)",
}


class Unreachable(Exception):
    """The address does not answer from where it is opened; the message says why."""


def placement() -> dict[str, dict[str, Placed]]:
    """compose/hosts.yml as the estate tool reads it: environment -> host name -> Host."""
    return ESTATE.placement


def split_address(address: str) -> tuple[str, int]:
    """``name:port`` -> (name, port)."""
    name, _, port = address.rpartition(":")
    if not name or not port.isdigit():
        raise Unreachable(f"{address!r} is not name:port")
    return name, int(port)


def url_address(url: str) -> str:
    """``scheme://name[:port]/...`` -> ``name:port`` (80 and 443 by default)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = parts.port or default
    if not parts.hostname or port is None:
        raise Unreachable(f"{url!r} names no host and port")
    return f"{parts.hostname}:{port}"


@dataclass
class Published:
    address: str  # host_ip; "" means every address of the host
    port: int  # on the host
    target: int  # in the container

    @property
    def loopback(self) -> bool:
        return self.address.startswith("127.") or self.address == "::1"


@dataclass
class Service:
    host: str
    stack: str
    name: str
    image: str
    networks: dict[str, set[str]]  # network (its name on the host) -> names answered there
    listens: set[int]
    published: list[Published]
    environment: dict[str, str]

    def __str__(self) -> str:
        return f"{self.name} ({self.stack} on {self.host})"


@dataclass
class Host:
    name: str
    addresses: set[str]  # names the other hosts reach it under
    internal: set[str]  # networks with no route out (and nothing published)
    services: list[Service] = field(default_factory=list)

    def joins_outside(self, svc: Service) -> bool:
        return any(net not in self.internal for net in svc.networks)


def image_key(image: str) -> str:
    """``registry.example/nap-dms/backend:1.0`` -> ``backend``."""
    return image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]


def container_ports(svc: dict[str, Any]) -> set[int]:
    ports = {int(str(p).split("/")[0].split("-")[0]) for p in svc.get("expose", [])}
    ports |= {int(p["target"]) for p in svc.get("ports", [])}
    return ports | IMAGE_PORTS.get(image_key(svc.get("image", "")), set())


def service_of(host: str, stack: str, name: str, svc: dict[str, Any], nets: dict) -> Service:
    names = {name} | ({svc["container_name"]} if svc.get("container_name") else set())
    networks = {
        nets[key]["name"]: names | set((attached or {}).get("aliases") or [])
        for key, attached in (svc.get("networks") or {}).items()
    }
    published = [
        Published(str(p.get("host_ip", "")), int(p["published"]), int(p["target"]))
        for p in svc.get("ports", [])
        if str(p.get("published", "")).isdigit()
    ]
    environment = {k: str(v) for k, v in (svc.get("environment") or {}).items() if v is not None}
    return Service(
        host=host,
        stack=stack,
        name=name,
        image=str(svc.get("image", "")),
        networks=networks,
        listens=container_ports(svc),
        published=published,
        environment=environment,
    )


@dataclass
class Estate:
    env: str
    hosts: dict[str, Host]

    def find(self, name: str, host: str | None = None) -> Service:
        """The one service called ``name`` (on ``host``, if given)."""
        found = [
            s
            for h in self.hosts.values()
            for s in h.services
            if s.name == name and host in (None, s.host)
        ]
        assert len(found) == 1, f"{self.env}: expected one {name} on {host or 'any host'}: {found}"
        return found[0]

    def public_sites(self) -> dict[str, Service]:
        """Public names (``<site>.<NAP_DOMAIN>``) -> the edge that serves them."""
        nginx = self.find("nginx")
        domain = nginx.environment["NAP_DOMAIN"]
        sites = (p.name.removesuffix(".conf.template") for p in EDGE_TEMPLATES.glob("*.template"))
        return {f"{site}.{domain}": nginx for site in sites}

    def host_named(self, name: str) -> Host | None:
        return next((h for h in self.hosts.values() if name in h.addresses), None)

    def reach(self, origin: Service, address: str) -> Service | None:
        """The service answering ``address`` (name:port) when ``origin`` opens it; None for a
        host daemon (HOST_DAEMON_PORTS). Raises Unreachable with the reason."""
        name, port = split_address(address)
        here = self.hosts[origin.host]
        answering = [
            svc
            for svc in here.services
            if any(name in svc.networks.get(net, ()) for net in origin.networks)
        ]
        if len(answering) > 1:
            raise Unreachable(f"{address}: {name!r} is ambiguous from {origin}: {answering}")
        if answering:
            [svc] = answering
            if port not in svc.listens:
                raise Unreachable(f"{address}: {svc} listens on {sorted(svc.listens)}, not {port}")
            return svc
        site = self.public_sites().get(name)
        target = self.hosts[site.host] if site else self.host_named(name)
        if target is None:
            raise Unreachable(
                f"{address}: {name!r} is no service on a network {origin} joins on "
                f"{origin.host}, nor a host of {self.env} ({sorted(self.hosts)}) or a public site"
            )
        if not here.joins_outside(origin):
            raise Unreachable(f"{address}: {origin} joins internal networks only: no route out")
        if port in HOST_DAEMON_PORTS and not site:
            return None
        publishers = [
            (svc, pub)
            for svc in target.services
            for pub in svc.published
            if pub.port == port and (site is None or svc is site)
        ]
        if not publishers:
            raise Unreachable(f"{address}: nothing on {target.name} publishes port {port}")
        for svc, pub in publishers:
            if pub.loopback:
                continue
            if not target.joins_outside(svc):
                raise Unreachable(f"{address}: {svc} is on internal networks only: not published")
            return svc
        shown = ", ".join(f"{svc} on {pub.address}" for svc, pub in publishers)
        raise Unreachable(f"{address}: port {port} is published on loopback only ({shown})")


@functools.cache
def build(env: str) -> Estate:
    """The estate of ``env`` as compose/hosts.yml places it (cached: treat it as read-only,
    copy it before changing it)."""
    hosts: dict[str, Host] = {}
    for key, spec in placement()[env].items():
        host = Host(name=key, addresses=spec.addresses, internal=set(spec.internal_networks))
        for stack in spec.stacks:
            model = render(stack, env, key)
            nets = model.get("networks", {})
            host.internal |= {net["name"] for net in nets.values() if net.get("internal")}
            for name, svc in model["services"].items():
                host.services.append(service_of(key, stack, name, svc, nets))
        hosts[key] = host
    return Estate(env=env, hosts=hosts)


def edge_upstreams(estate: Estate) -> dict[str, str]:
    """Enabled edge sites that proxy to OPS_HOST -> the address they proxy to (host:port).

    A site is enabled only once its certificate exists (edge-start.sh), so only the sites that
    certbot certifies (CERTBOT_DOMAINS) count; dev certifies none.
    """
    nginx = estate.find("nginx")
    certified = set(estate.find("certbot").environment.get("CERTBOT_DOMAINS", "").split())
    found = {}
    for path in sorted(EDGE_TEMPLATES.glob("*.template")):
        site = f"{path.name.removesuffix('.conf.template')}.{nginx.environment['NAP_DOMAIN']}"
        for port_var in OPS_UPSTREAM.findall(path.read_text("utf-8")):
            if site in certified:
                found[site] = f"{nginx.environment['OPS_HOST']}:{nginx.environment[port_var]}"
    return found
