"""The rendered estate compared with the NAP-DMS estate contract (tests/fixtures/estate-contract).

``findings(contract, models, env, ...)`` returns every place where the rendered stacks of one
environment differ from the contract, keyed as the contract's `differences` name them
(``<service>.<aspect>[:<detail>]``, ``route:<host>``, ``certbot:<host>``), each with a readable
line. Pure: the rendered models, env-file values and edge files are passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers import FIXTURES

CONTRACT_FILE = FIXTURES / "estate-contract" / "estate-contract.yml"
WRAPPER = "env-from-files.sh"
UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

Findings = dict[str, str]
Models = dict[str, dict[str, Any]]  # stack -> rendered model


def load_contract(path: Path = CONTRACT_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text("utf-8"))


def memory_bytes(value: Any) -> int:
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?", str(value).strip().lower())
    assert match, f"not a memory size: {value!r}"
    return int(float(match.group(1)) * UNITS[match.group(2)])


def version_tuple(text: str) -> tuple[int, ...]:
    """``v2.48.0`` / ``1.26.0-rootless`` / ``7.4.2-alpine`` -> (2, 48, 0) ..."""
    match = re.match(r"v?(\d+(?:\.\d+)*)", text)
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def split_image(image: str) -> tuple[str, str]:
    """``registry/a/b:tag`` -> (``b``, ``tag``)."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    return name, tag


def fill(value: str, domain: str) -> str:
    return str(value).replace("{domain}", domain)


def joined(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def normalise_url(text: str) -> str:
    return text.replace("127.0.0.1", "localhost")


@dataclass
class Mount:
    target: str
    kind: str  # bind | volume | tmpfs
    host_path: str | None  # the host folder it shows (a bind, or a volume bound to a folder)
    read_only: bool


def mounts(svc: dict[str, Any], model: dict[str, Any]) -> dict[str, Mount]:
    found: dict[str, Mount] = {}
    volumes = model.get("volumes") or {}
    for vol in svc.get("volumes") or []:
        kind, source = vol.get("type"), vol.get("source")
        host = source if kind == "bind" else None
        if kind == "volume" and source in volumes:
            opts = (volumes[source] or {}).get("driver_opts") or {}
            if opts.get("type") == "none" and "bind" in str(opts.get("o", "")).split(","):
                host = opts.get("device")
        found[vol["target"]] = Mount(vol["target"], str(kind), host, bool(vol.get("read_only")))
    for entry in svc.get("tmpfs") or []:
        target = str(entry).split(":", 1)[0]
        found.setdefault(target, Mount(target, "tmpfs", None, False))
    return found


def secret_targets(svc: dict[str, Any]) -> set[str]:
    found = set()
    for ref in svc.get("secrets") or []:
        target = str(ref.get("target") or ref["source"])
        found.add(target if target.startswith("/") else f"/run/secrets/{target}")
    return found


def uses_wrapper(svc: dict[str, Any]) -> bool:
    entry = joined(svc.get("entrypoint"))
    mounted = any(str(v.get("target", "")).endswith(WRAPPER) for v in svc.get("volumes") or [])
    return WRAPPER in entry and mounted


def check_image(name: str, want: dict[str, Any], image: str) -> Findings:
    got_name, tag = split_image(image)
    out: Findings = {}
    if got_name not in {want["name"], *want.get("same", [])}:
        out[f"{name}.image"] = f"{name}: image {image!r}, the estate runs {want['name']}"
    if want.get("variant") and want["variant"] not in tag.split("-")[1:]:
        out[f"{name}.image"] = f"{name}: image {image!r} is not the {want['variant']} variant"
    if want.get("version") and not want.get("app"):
        have, need = version_tuple(tag), version_tuple(want["version"])
        if not have or have[: len(need)] < need:
            out[f"{name}.version"] = (
                f"{name}: image {image!r} is older than the estate's {want['version']} "
                "(none of these projects supports running an older binary on newer data)"
            )
    return out


def check_env(name: str, want: dict[str, Any], svc: dict[str, Any], domain: str) -> Findings:
    env = {k: "" if v is None else str(v) for k, v in (svc.get("environment") or {}).items()}
    out: Findings = {}
    for var, value in (want.get("env") or {}).items():
        expected = fill(value, domain)
        if env.get(var) != expected:
            out[f"{name}.env:{var}"] = (
                f"{name}: {var}={env.get(var)!r}, the estate has {expected!r}"
            )
    for var, text in (want.get("env_contains") or {}).items():
        if fill(text, domain) not in env.get(var, ""):
            out[f"{name}.env:{var}"] = f"{name}: {var}={env.get(var)!r} lacks {text!r}"
    mounted = secret_targets(svc)
    supplied: set[str] = {v for v in want.get("env") or {} if v in env}
    for var, mode in (want.get("secrets") or {}).items():
        key = f"{name}.secret:{var}"
        if var in env:
            out[key] = f"{name}: secret {var} is written in the Compose file (use {var}_FILE)"
            continue
        file_var = next((f for f in (f"{var}_FILE", f"{var}__FILE") if f in env), None)
        if file_var is None:
            out[key] = f"{name}: {var} is not set, nor {var}_FILE"
        elif env[file_var] not in mounted:
            out[key] = f"{name}: {file_var}={env[file_var]} is no secret mounted in the service"
        elif mode == "wrapper" and not uses_wrapper(svc):
            out[key] = (
                f"{name}: the application reads only {var}; its entrypoint must be "
                f"{WRAPPER} (mounted) to export it from {file_var}"
            )
        else:
            supplied.add(var)
    for var in want.get("required") or []:
        if var not in supplied and var not in env:
            out[f"{name}.required:{var}"] = f"{name}: start-up validation requires {var}"
    return out


def check_runtime(name: str, want: dict[str, Any], svc: dict[str, Any], prod: bool) -> Findings:
    out: Findings = {}
    if want.get("user"):
        got = str(svc.get("user", "")).split(":")
        need = str(want["user"]).split(":")
        if got[: len(need)] != need:
            out[f"{name}.user"] = (
                f"{name}: runs as {svc.get('user')!r}, the estate as {want['user']}"
            )
    if want.get("healthcheck"):
        test = normalise_url(joined((svc.get("healthcheck") or {}).get("test")))
        if normalise_url(want["healthcheck"]) not in test:
            out[f"{name}.healthcheck"] = (
                f"{name}: healthcheck {test!r} lacks {want['healthcheck']!r}"
            )
    command = joined(svc.get("entrypoint")) + " " + joined(svc.get("command"))
    for flag in want.get("command_contains") or []:
        if flag not in command:
            out[f"{name}.command:{flag.split()[0]}"] = f"{name}: command lacks {flag!r}"
    member = want.get("replica_member")
    if member and member not in command + joined((svc.get("healthcheck") or {}).get("test")):
        out[f"{name}.replica_member"] = f"{name}: the replica set's member is not {member}"
    if want.get("docker_socket_read_only"):
        sock = [v for v in svc.get("volumes") or [] if "docker.sock" in str(v.get("source"))]
        if not sock or not all(v.get("read_only") for v in sock):
            out[f"{name}.docker_socket"] = f"{name}: the Docker socket is not mounted read-only"
    if prod and want.get("limits"):
        limits = (svc.get("deploy") or {}).get("resources", {}).get("limits", {})
        if float(limits.get("cpus") or 0) < float(want["limits"]["cpus"]):
            out[f"{name}.limits:cpus"] = (
                f"{name}: cpus {limits.get('cpus')} < {want['limits']['cpus']}"
            )
        if memory_bytes(limits.get("memory") or 0) < memory_bytes(want["limits"]["memory"]):
            out[f"{name}.limits:memory"] = (
                f"{name}: memory {limits.get('memory')} < {want['limits']['memory']}"
            )
    if prod:
        ports = {
            (str(p.get("host_ip", "")), str(p.get("published", "")), str(p.get("target", "")))
            for p in svc.get("ports") or []
        }
        for entry in want.get("published") or []:
            parts = str(entry).split(":")
            ip, host, target = ([""] + parts)[-3:] if len(parts) == 2 else parts
            if not any(h == host and t == target and (not ip or i == ip) for i, h, t in ports):
                out[f"{name}.published:{entry}"] = f"{name}: {entry} is not published"
    return out


def check_data(
    name: str, want: dict[str, Any], svc: dict[str, Any], model: dict, env: str
) -> Findings:
    out: Findings = {}
    have = mounts(svc, model)
    for target, host_path in (want.get("data") or {}).items():
        key = f"{name}.data:{target}"
        mount = have.get(target)
        if mount is None or mount.kind == "tmpfs":
            out[key] = f"{name}: {target} is not mounted from the NAS ({host_path} in the estate)"
        elif env == "prod" and mount.host_path != host_path:
            out[key] = (
                f"{name}: {target} shows {mount.host_path or 'a named volume'}, not {host_path}"
            )
        elif env != "prod" and mount.host_path is not None:
            out[key] = (
                f"{name}: {target} is bound to {mount.host_path} in {env} "
                "(a named volume is expected)"
            )
    return out


def check_settings(name: str, want: dict[str, Any], svc: dict[str, Any], read: Any) -> Findings:
    """``server_settings``: `key = value` in the .cnf files the service mounts (or its command)."""
    out: Findings = {}
    if not want.get("server_settings"):
        return out
    text = joined(svc.get("command")).replace("--", "\n")
    for vol in svc.get("volumes") or []:
        if vol.get("type") == "bind" and str(vol.get("source", "")).endswith(".cnf"):
            text += "\n" + read(vol["source"])
    settings = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.strip().replace("_", "-")] = value.strip().strip("'\"")
    for key, value in want["server_settings"].items():
        if settings.get(key) != value:
            out[f"{name}.setting:{key}"] = (
                f"{name}: {key}={settings.get(key)!r}, the estate has {value!r}"
            )
    return out


def findings(
    contract: dict[str, Any], models: Models, env: str, domain: str, read: Any
) -> Findings:
    """Every difference between the rendered stacks of ``env`` and the contract's services.

    ``read(path)`` returns the text of a file a service mounts (the MariaDB .cnf)."""
    out: Findings = {}
    for name, want in contract["services"].items():
        svc = (models.get(want["stack"]) or {}).get("services", {}).get(name)
        if svc is None:
            out[f"{name}.service"] = f"{name}: no such service in the {want['stack']} stack"
            continue
        model = models[want["stack"]]
        out |= check_image(name, want["image"], str(svc.get("image", "")))
        out |= check_env(name, want, svc, domain)
        out |= check_runtime(name, want, svc, env == "prod")
        out |= check_data(name, want, svc, model, env)
        out |= check_settings(name, want, svc, read)
    return out


# ---- the edge: public names and routes ----

SERVER = re.compile(r"server\s*\{(.*?)\n\}", re.S)
UPSTREAM = re.compile(r"upstream\s+(\w+)\s*\{[^}]*?server\s+([\w.-]+:\d+)", re.S)
OPS = re.compile(r"set\s+\$\w+\s+https?://\$\{OPS_HOST\}:\$\{(\w+)\}")


def site_routes(
    templates: dict[str, str], upstreams: str, variables: dict[str, str]
) -> dict[str, str]:
    """Public host -> what its `location /` serves: ``service:port``, ``ops:<port>`` (the
    ASUSTOR through OPS_HOST) or ``static``; from the edge's site templates."""
    targets = dict(UPSTREAM.findall(upstreams))
    routes: dict[str, str] = {}
    for text in templates.values():
        for block in SERVER.findall(text):
            names = re.search(r"server_name\s+([^;]+);", block)
            if not names or "listen 443" not in block:
                continue
            root = re.search(r"location\s+/\s*\{(.*?)\n    \}", block, re.S)
            body = root.group(1) if root else ""
            ops = OPS.search(body)
            proxied = re.search(r"proxy_pass\s+http://(\w+)", body)
            if ops:
                route = f"ops:{variables.get(ops.group(1), ops.group(1))}"
            elif proxied:
                route = targets.get(proxied.group(1), proxied.group(1))
            elif re.search(r"^\s*(root|try_files)\s", body, re.M):
                route = "static"
            else:
                route = "nothing"
            for host in names.group(1).split():
                for var, value in variables.items():
                    host = host.replace("${" + var + "}", value)
                routes[host] = route
    return routes


def route_findings(
    contract: dict[str, Any], routes: dict[str, str], domain: str, certified: set[str] | None
) -> Findings:
    """Contract routes against the edge's; ``certified``: the names certbot obtains
    certificates for (None: none expected, as in dev), without which a site stays disabled."""
    out: Findings = {}
    expected = {fill(host, domain): (host, spec) for host, spec in contract["routes"].items()}
    for host, (key, spec) in expected.items():
        got = routes.get(host)
        if got is None:
            out[f"route:{key}"] = (
                f"{host} is not served (the estate forwards it to {spec['upstream']})"
            )
        elif got != spec["upstream"]:
            out[f"route:{key}"] = f"{host} goes to {got}, the estate's to {spec['upstream']}"
        elif certified is not None and host not in certified:
            out[f"certbot:{key}"] = (
                f"{host} is served but certbot does not certify it: never enabled"
            )
    for host in sorted(set(routes) - set(expected)):
        key = host.replace(domain, "{domain}") if host.endswith(domain) else host
        out[f"route:{key}"] = f"{host} is served by the edge but is no name of the estate"
    return out
