"""Docker operations of a deploy, on one host's engine (core.dockerhost.Engine).

Everything goes through the Docker API, so the engine may be this host's socket, ssh:// or
TLS tcp://: a deploy sidecar on the ASUSTOR acts on the QNAP's containers and edge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..core.dockerhost import DockerError, Engine
from .spec import Spec, create_body

NEXT_SUFFIX = "-next"
PREV_SUFFIX = "-prev"
DEPLOY_LABEL = "napops.deploy.id"


class PullError(DockerError):
    """The image could not be pulled (auth, missing tag, unreachable registry)."""


def split_image(image: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag); a digest stays in the repository part."""
    if "@" in image:
        return image, ""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, "latest"


def pull(engine: Engine, image: str) -> dict[str, Any]:
    """Pull ``image`` on the engine's host and return its inspect document."""
    repo, tag = split_image(image)
    try:
        for line in engine.api.pull(repo, tag=tag or None, stream=True, decode=True):
            if isinstance(line, dict) and line.get("error"):
                raise PullError(f"pull {image}: {line['error']}")
    except PullError:
        raise
    except Exception as exc:  # noqa: BLE001 - docker-py raises several kinds; say which
        raise PullError(f"pull {image}: {getattr(exc, 'explanation', None) or exc}") from None
    return image_inspect(engine, image)


def image_inspect(engine: Engine, image: str) -> dict[str, Any]:
    doc: dict[str, Any] = engine._call(f"inspect image {image}", engine.api.inspect_image, image)
    return doc


def container_named(engine: Engine, name: str) -> dict[str, Any] | None:
    try:
        return engine.inspect(name)
    except DockerError as exc:
        if "not found" in str(exc):
            return None
        raise


def create(engine: Engine, spec: Spec, labels: dict[str, str]) -> str:
    """Create green (not started): networks without the service's aliases."""
    body = create_body(spec)
    body["Labels"] = {**body.get("Labels", {}), **labels}
    created = engine._call(
        f"create {spec.name}", engine.api.create_container_from_config, body, spec.name
    )
    cid = str(created["Id"])
    for net in spec.networks:
        if net != spec.first_network:
            connect(engine, cid, net, [])
    return cid


def connect(engine: Engine, container: str, network: str, aliases: list[str]) -> None:
    engine._call(
        f"connect {container} to {network}",
        engine.api.connect_container_to_network,
        container,
        network,
        aliases=aliases or None,
    )


def disconnect(engine: Engine, container: str, network: str) -> None:
    engine._call(
        f"disconnect {container} from {network}",
        engine.api.disconnect_container_from_network,
        container,
        network,
        force=True,
    )


def set_aliases(engine: Engine, container: str, networks: dict[str, list[str]]) -> None:
    """Give ``container`` exactly these aliases (reconnects it to each network)."""
    for net, aliases in networks.items():
        disconnect(engine, container, net)
        connect(engine, container, net, aliases)


def rename(engine: Engine, container: str, name: str) -> None:
    engine._call(f"rename {container} to {name}", engine.api.rename, container, name)


def last_health_output(doc: dict[str, Any]) -> str:
    log = ((doc.get("State") or {}).get("Health") or {}).get("Log") or []
    if not log:
        return ""
    return str(log[-1].get("Output", "")).strip()[-500:]


def wait_healthy(
    engine: Engine,
    container: str,
    timeout: float,
    extra_check: Callable[[], str | None] | None = None,
    interval: float = 0.25,
    accept_starting: bool = False,
) -> str | None:
    """None once ``container`` is healthy (and ``extra_check`` returns None), else the reason.
    ``accept_starting``: a container whose first Docker check has not run yet counts as ready
    when ``extra_check`` passes (a rollback to a container that served a moment ago)."""
    deadline = time.monotonic() + timeout
    reason = "did not become healthy"
    while True:
        doc = engine.inspect(container)
        state = doc["State"]
        if not state.get("Running"):
            logs = _tail_logs(engine, container)
            return f"exited with status {state.get('ExitCode')}{logs}"
        health = (state.get("Health") or {}).get("Status", "none")
        if health == "unhealthy":
            return f"unhealthy: {last_health_output(doc) or 'no health output'}"
        if health in ("healthy", "none") or (
            accept_starting and extra_check is not None and health == "starting"
        ):
            problem = extra_check() if extra_check is not None else None
            if problem is None:
                return None
            reason = problem
        else:
            out = last_health_output(doc)
            reason = f"still {health}" + (f": {out}" if out else "")
        if time.monotonic() >= deadline:
            return f"not healthy within {timeout:g} s ({reason})"
        time.sleep(interval)


def _tail_logs(engine: Engine, container: str) -> str:
    try:
        out = engine.api.logs(container, tail=5, stdout=True, stderr=True)
    except Exception:  # noqa: BLE001 - the logs only decorate the reason
        return ""
    text = out.decode("utf-8", "replace").strip()
    return f": {text[-400:]}" if text else ""


def edge_container(engine: Engine, project: str, service: str) -> str:
    found = [
        c for c in engine.containers(project=project, service=service) if c.status == "running"
    ]
    if not found:
        raise DockerError(f"no running edge container (project {project}, service {service})")
    return str(found[0].name)


def nginx_test(engine: Engine, edge: str) -> str | None:
    """None when ``nginx -t`` passes in the edge container, else its complaint."""
    res = engine.exec_run(edge, ["nginx", "-t", "-q"])
    if res.exit_code == 0:
        return None
    text = (res.stderr or res.stdout.decode("utf-8", "replace")).strip()
    return f"nginx -t failed in {edge}: {text[-400:]}"


def http_check(engine: Engine, edge: str, url: str) -> str | None:
    """None when GET ``url`` from inside the edge container answers 2xx."""
    res = engine.exec_run(edge, ["wget", "-q", "-O", "/dev/null", "-T", "3", url])
    if res.exit_code == 0:
        return None
    text = (res.stderr or "").strip().splitlines()[-1:] or [f"exit {res.exit_code}"]
    return f"GET {url} from the edge failed: {text[0]}"
