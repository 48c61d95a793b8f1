"""The estate's one owner of Compose arguments: every caller renders and starts through here.

What it owns (and nothing else builds):

- the environments (folders of compose/env/) and the stacks (compose/stacks/*.yml);
- the placement: compose/hosts.yml read into hosts with their stacks, networks and `env`;
- the Compose argument list of a selection: base stack, the environment's overlay, the local
  image overrides (compose/.images.env, written by `make images`) and the environment's env
  file, in that order (later env files win, so an env file may pin an image that
  .images.env maps to a local one);
- the process environment Compose runs with: only what the Docker CLI needs to find the engine
  (CLEAN_VARIABLES) and NAPOPS_ENV (the selection's environment), plus what the selection adds
  (the local stack: its LOCAL_VARIABLES, and NODE_TEXTFILE_VOLUME and OPS_PREFIX named after
  its project),
  never the caller's shell as a whole, so a variable exported by hand cannot hide one missing
  from an env file.

Two kinds of selection, built by the same functions:

- an estate stack (``Selection.stack``): one stack of one environment as a host of
  compose/hosts.yml runs it: committed files only, plus the host's `env` (which wins over the
  env file) when a host is named. This is what a deployment starts and what the tests in
  tests/compose check.
- the local stack (``Selection.local``, `make up`): the stacks NAPOPS_STACKS (default
  LOCAL_STACKS) of ENV as one Compose project NAPOPS_PROJECT (default napops-<env>), with the
  local images, the group of the local Docker socket (DOCKER_SOCKET_GID) and the variables a
  person or a test may set in the shell to move ports and folders (LOCAL_VARIABLES).

`validate` renders (`docker compose config -q`) every stack of every environment on every host
it is placed on, every stack on its own, and the local stack (each of its stacks alone, then
all together), with exactly the arguments and environment `up` uses.

compose/hosts.yml is read by a small parser for the subset of YAML it uses (block mappings and
sequences, `[a, b]` lists, also over several lines, `{}`, plain and quoted scalars, comments).
The standard library has no YAML parser and `make up` runs before any virtualenv exists; using
PyYAML where it happens to be installed would make two readers that can disagree. Anything
outside the subset is an error naming the line, and tests/compose/test_estate_tool.py checks
that this parser and PyYAML read the shipped file alike.

Command line: compose/bin/estate --help. Standard library only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

COMPOSE_DIR = Path(__file__).resolve().parent

# What the Docker CLI needs to find and reach the engine; nothing else of the caller's
# environment reaches Compose.
CLEAN_VARIABLES = (
    "PATH",
    "HOME",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CONTEXT",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
)
# The local stack (`make up`): its default stacks, and the Compose variables a person or a test
# may set in the shell to move its published ports and mounted folders (they win over the env
# files; see compose/stacks/monitoring.yml). Nothing else from the shell is used.
LOCAL_STACKS = ("monitoring", "agents", "napops", "watch")
LOCAL_VARIABLES = (
    "PROMETHEUS_PORT",
    "ALERTMANAGER_PORT",
    "GRAFANA_PORT",
    "PROMETHEUS_DIR",
    "ALERTMANAGER_DIR",
    "GRAFANA_DIR",
    "LOKI_DIR",
    "ALLOY_DIR",
    "NAPOPS_CONFIG_DIR",
    "DOCS_DIR",
    "RELAY_PORT",
    "CERTS_PORT",
    "DEPLOY_PORT",
    "BACKUP_PORT",
    "COMPLIANCE_PORT",
    "DEVSINK_PORT",
    "DOCKER_SOCKET_GID",
)
LOCAL_SOCKET = Path("/var/run/docker.sock")
# Where the Docker CLI looks for its plugins after $DOCKER_CONFIG/cli-plugins (~/.docker/...).
SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
RENDER_TIMEOUT = 120


class EstateError(Exception):
    """Something about the estate's files or Compose is wrong; the message says what."""


class DockerMissing(EstateError):
    """`docker compose` cannot be run at all."""


class UsageError(EstateError):
    """The caller asked for something that does not exist (exit status 2)."""


class PlacementError(UsageError):
    """compose/hosts.yml cannot be read or is not a placement (exit status 2)."""


# -- compose/hosts.yml: a strict reader for the subset of YAML it uses -------------------------


def _strip_comment(text: str) -> str:
    """``text`` without a trailing ``# comment`` (a ``#`` inside quotes is kept)."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


def _scalar(text: str, where: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        if text[0] == '"' and "\\" in inner:
            raise EstateError(f"At '{where}': escapes in double quotes are not supported")
        return inner.replace("''", "'") if text[0] == "'" else inner
    if not text or text[0] in "'\"[]{}&*!|>%@`" or ": " in text or text.endswith(":"):
        raise EstateError(f"At '{where}': unsupported value {text!r}")
    return text


def _flow_or_scalar(text: str, where: str) -> Any:
    text = text.strip()
    if text.startswith("["):
        if not text.endswith("]"):
            raise EstateError(f"At '{where}': a list that is never closed: {text!r}")
        inner = text[1:-1].strip()
        return [_scalar(item, where) for item in inner.split(",")] if inner else []
    if text == "{}":
        return {}
    return _scalar(text, where)


def parse_yaml_subset(text: str, source: str = "<text>") -> Any:
    """Block mappings and sequences, ``[a, b]`` lists (over several lines too), ``{}``, plain
    or quoted scalars (all strings), comments. Raises EstateError (``At 'source:line': ...``)
    on anything else."""
    lines: list[tuple[int, int, str]] = []  # (line number, indent, content)
    for number, raw in enumerate(text.splitlines(), start=1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise EstateError(f"At '{source}:{number}': a tab in the indentation")
        content = _strip_comment(raw.strip())
        if content in ("", "---"):
            continue
        lines.append((number, len(raw) - len(raw.lstrip()), content))
    pos = 0

    def where() -> str:
        return f"{source}:{lines[pos][0]}"

    def block(indent: int) -> Any:
        nonlocal pos
        if lines[pos][2].startswith("- "):
            items = []
            while pos < len(lines) and lines[pos][1] == indent and lines[pos][2][:2] == "- ":
                items.append(_flow_or_scalar(lines[pos][2][2:], where()))
                pos += 1
            return items
        found: dict[str, Any] = {}
        while pos < len(lines) and lines[pos][1] == indent:
            number, _, content = lines[pos]
            key, colon, rest = content.partition(":")
            if not colon or (rest and not rest.startswith(" ")) or not key or key[0] in "-'\"[{":
                raise EstateError(f"At '{where()}': expected `key: value`, found {content!r}")
            key = key.strip()
            if key in found:
                raise EstateError(f"At '{where()}': {key!r} appears twice")
            pos += 1
            rest = rest.strip()
            # a `[...]` list may go on over more-indented lines
            while rest.startswith("[") and not rest.endswith("]") and pos < len(lines):
                if lines[pos][1] <= indent:
                    break
                rest += " " + lines[pos][2]
                pos += 1
            if rest:
                found[key] = _flow_or_scalar(rest, f"{source}:{number}")
            elif pos < len(lines) and (
                lines[pos][1] > indent
                or (lines[pos][1] == indent and lines[pos][2].startswith("- "))
            ):
                found[key] = block(lines[pos][1])
            else:
                found[key] = None
        if pos < len(lines) and lines[pos][1] > indent:
            raise EstateError(f"At '{where()}': unexpected indentation")
        return found

    if not lines:
        return None
    result = block(lines[0][1])
    if pos < len(lines):
        raise EstateError(f"At '{where()}': unexpected indentation")
    return result


# -- the placement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """One Docker host of an environment, as compose/hosts.yml describes it."""

    name: str
    docker_host: str
    stacks: tuple[str, ...]
    networks: tuple[str, ...] = ()
    internal_networks: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    address: str = ""  # the LAN address, for people and runbooks only
    data_roots: tuple[str, ...] = ()  # where the estate keeps its data on the host
    # a tcp:// engine with TLS: the folder with ca.pem, cert.pem and key.pem (DOCKER_CERT_PATH)
    docker_cert_path: str = ""

    @property
    def addresses(self) -> set[str]:
        """Names the other hosts reach it under: its key and its docker_host's hostname."""
        hostname = urlsplit(self.docker_host).hostname
        return {self.name} | ({hostname} if hostname else set())


ENGINE_SCHEMES = ("unix", "ssh", "tcp")
HOST_KEYS = {
    "docker_host",
    "stacks",
    "networks",
    "internal_networks",
    "env",
    "address",
    "data_roots",
    "docker_cert_path",
}


def _hosts_of(env: str, spec: Any, path: str) -> tuple[dict[str, Host], list[str]]:
    problems: list[str] = []
    if not isinstance(spec, dict) or set(spec) != {"hosts"} or not isinstance(spec["hosts"], dict):
        return {}, [f"At '{path}': expected a mapping with `hosts:` only"]
    hosts = {}
    for name, host in spec["hosts"].items():
        at = f"{path}.hosts.{name}"
        if not isinstance(host, dict):
            problems.append(f"At '{at}': expected a mapping")
            continue
        unknown = sorted(set(host) - HOST_KEYS)
        if unknown:
            problems.append(f"At '{at}': unknown keys {unknown} (known: {sorted(HOST_KEYS)})")
        docker_host = host.get("docker_host")
        if not isinstance(docker_host, str) or not docker_host:
            problems.append(f"At '{at}.docker_host': required, a DOCKER_HOST URL")
        elif urlsplit(docker_host).scheme not in ENGINE_SCHEMES:
            problems.append(
                f"At '{at}.docker_host': {docker_host!r} is not unix://, ssh:// or tcp://"
            )
        cert_path = host.get("docker_cert_path")
        if cert_path is not None and (
            not isinstance(cert_path, str)
            or not isinstance(docker_host, str)
            or not docker_host.startswith("tcp://")
        ):
            problems.append(
                f"At '{at}.docker_cert_path': a folder (ca.pem, cert.pem, key.pem), "
                "for a tcp:// docker_host only"
            )
        for key in ("stacks", "networks", "internal_networks", "data_roots"):
            value = host.get(key, [])
            if not isinstance(value, list) or (key == "stacks" and not value):
                what = "a non-empty list of stacks" if key == "stacks" else "a list"
                problems.append(f"At '{at}.{key}': expected {what}")
        variables = host.get("env") or {}
        if not isinstance(variables, dict):
            problems.append(f"At '{at}.env': expected a mapping of variables")
            variables = {}
        if problems:
            continue
        hosts[name] = Host(
            name=name,
            docker_host=host["docker_host"],
            stacks=tuple(host["stacks"]),
            networks=tuple(host.get("networks") or ()),
            internal_networks=tuple(host.get("internal_networks") or ()),
            env={k: str(v) for k, v in variables.items()},
            address=str(host.get("address") or ""),
            data_roots=tuple(host.get("data_roots") or ()),
            docker_cert_path=str(host.get("docker_cert_path") or ""),
        )
    return hosts, problems


# -- what Compose is run with ------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Stacks of one environment to render or run together, and how."""

    env: str
    stacks: tuple[str, ...]
    project: str | None = None  # --project-name (None: the stack file's own `name:`)
    host: str | None = None  # a host of compose/hosts.yml whose `env` applies
    local: bool = False  # the local stack: local images, socket group, LOCAL_VARIABLES
    # variables set for this run only, winning over everything else (a test's own image or
    # environment name); (name, value) pairs so that a selection stays hashable
    overrides: tuple[tuple[str, str], ...] = ()

    @classmethod
    def stack(
        cls,
        env: str,
        stack: str,
        host: str | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> Selection:
        """One stack as ``host`` (or no host in particular) runs it."""
        pairs = tuple(sorted((overrides or {}).items()))
        return cls(env=env, stacks=(stack,), host=host, overrides=pairs)

    @classmethod
    def local_stack(
        cls,
        environ: Mapping[str, str] | None = None,
        env: str | None = None,
        stacks: Sequence[str] | None = None,
        project: str | None = None,
    ) -> Selection:
        """The local stack of `make up`: ENV, NAPOPS_STACKS and NAPOPS_PROJECT from ``environ``
        (the process environment by default) unless given."""
        environ = os.environ if environ is None else environ
        env = env or environ.get("ENV") or "dev"
        if stacks is None:
            stacks = environ.get("NAPOPS_STACKS", "").split() or LOCAL_STACKS
        project = project or environ.get("NAPOPS_PROJECT") or f"napops-{env}"
        return cls(env=env, stacks=tuple(stacks), project=project, local=True)

    def alone(self, stack: str) -> Selection:
        """The same selection with only ``stack``."""
        return Selection(self.env, (stack,), self.project, self.host, self.local, self.overrides)


class Estate:
    """The estate in ``compose_dir`` (compose/ of this checkout by default)."""

    def __init__(self, compose_dir: Path = COMPOSE_DIR, docker: str = "docker"):
        self.dir = Path(compose_dir)
        self.docker = docker
        self._renders: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], Any] = {}

    @functools.cached_property
    def compose(self) -> list[str]:
        """The command that runs Compose: `docker compose`, or, where the Docker CLI would
        find the Compose plugin, that plugin's binary run on its own (its documented
        stand-alone mode: same binary, arguments, environment and output). The Docker CLI runs
        a plugin twice more per call to read its metadata: run directly, a render takes 40 %
        less CPU, which `validate` (a hundred renders) and a small NAS notice. Without the
        Docker CLI it stays `docker compose`, which then reports Docker missing."""
        return compose_command(self.docker)

    # the lists

    def envs(self) -> list[str]:
        """Environments: the folders of compose/env/."""
        return sorted(p.name for p in (self.dir / "env").iterdir() if p.is_dir())

    def stacks(self) -> list[str]:
        """Stacks: compose/stacks/<name>.yml."""
        return sorted(p.stem for p in (self.dir / "stacks").glob("*.yml"))

    def check_env(self, env: str) -> str:
        if not NAME.match(env or "") or not (self.dir / "env" / env).is_dir():
            raise UsageError(
                f"unknown environment {env!r} (expected one of {', '.join(self.envs())}: "
                "a folder in compose/env/)"
            )
        return env

    def check_stack(self, stack: str) -> str:
        if not NAME.match(stack or "") or not (self.dir / "stacks" / f"{stack}.yml").is_file():
            raise UsageError(f"no stack file compose/stacks/{stack}.yml")
        return stack

    def names_its_project(self, stack: str) -> bool:
        """The stack file sets a top-level `name:` (without one, Compose names the project
        after the folder, `stacks`, the same for every stack of a host)."""
        text = (self.dir / "stacks" / f"{self.check_stack(stack)}.yml").read_text("utf-8")
        return re.search(r"^name:", text, re.MULTILINE) is not None

    @functools.cached_property
    def placement(self) -> dict[str, dict[str, Host]]:
        """compose/hosts.yml: environment -> host name -> Host. Raises EstateError."""
        path = self.dir / "hosts.yml"
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PlacementError(f"cannot read {path}: {exc.strerror}") from None
        try:
            doc = parse_yaml_subset(text, "compose/hosts.yml")
        except PlacementError:
            raise
        except EstateError as exc:
            raise PlacementError(str(exc)) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("environments"), dict):
            raise PlacementError("At 'compose/hosts.yml': expected `environments:` at the top")
        found, problems = {}, []
        for env, spec in doc["environments"].items():
            found[env], more = _hosts_of(env, spec, f"environments.{env}")
            problems += more
        if problems:
            raise PlacementError("compose/hosts.yml:\n" + "\n".join(problems))
        return found

    def hosts(self, env: str) -> dict[str, Host]:
        self.check_env(env)
        if env not in self.placement:
            raise UsageError(f"compose/hosts.yml places nothing for environment {env!r}")
        return self.placement[env]

    def host(self, env: str, name: str) -> Host:
        hosts = self.hosts(env)
        if name not in hosts:
            raise UsageError(f"{env} has no host {name!r} (hosts: {', '.join(hosts)})")
        return hosts[name]

    def networks(self, env: str) -> list[tuple[Host, str, bool]]:
        """(host, network, internal) for every external network ``env``'s hosts ask for."""
        return [
            (host, net, internal)
            for host in self.hosts(env).values()
            for internal, nets in ((False, host.networks), (True, host.internal_networks))
            for net in nets
        ]

    # the argument list and the environment

    def args(self, sel: Selection) -> list[str]:
        """The arguments after `docker compose` that select ``sel``."""
        self.check_env(sel.env)
        files: list[str] = []
        env_files: list[str] = []
        images = self.dir / ".images.env"
        if sel.local and images.is_file():
            env_files += ["--env-file", str(images)]
        for stack in sel.stacks:
            files += ["-f", str(self.dir / "stacks" / f"{self.check_stack(stack)}.yml")]
            overlay = self.dir / "env" / sel.env / f"{stack}.yml"
            if overlay.is_file():
                files += ["-f", str(overlay)]
            env_file = self.dir / "env" / sel.env / f"{stack}.env"
            if env_file.is_file():
                env_files += ["--env-file", str(env_file)]
        project = ["--project-name", sel.project] if sel.project else []
        return project + files + env_files

    def environment(
        self, sel: Selection, environ: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The process environment for `docker compose` on ``sel``: CLEAN_VARIABLES from
        ``environ`` (the process environment by default), NAPOPS_ENV (the selection's
        environment), the host's `env`, for the local stack the socket group and
        LOCAL_VARIABLES, and last the selection's own ``overrides``."""
        environ = os.environ if environ is None else environ
        found = {k: environ[k] for k in CLEAN_VARIABLES if k in environ}
        found["NAPOPS_ENV"] = sel.env  # the selection's, whatever the shell or env file says
        if sel.host is not None:
            found.update(self.host(sel.env, sel.host).env)
        if sel.local:
            gid = socket_gid(environ.get("DOCKER_HOST", f"unix://{LOCAL_SOCKET}"))
            if gid is not None:
                found["DOCKER_SOCKET_GID"] = str(gid)
            found.update({k: environ[k] for k in LOCAL_VARIABLES if k in environ})
            # its volumes and networks are its own: named after the project, not the
            # environment (parallel local stacks never meet)
            found["NODE_TEXTFILE_VOLUME"] = f"{sel.project}-node-textfile"
            found["OPS_PREFIX"] = str(sel.project)
        found.update(sel.overrides)
        return found

    # running Compose

    def run(
        self,
        sel: Selection,
        *command: str,
        environ: Mapping[str, str] | None = None,
        timeout: float | None = RENDER_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """`docker compose <args of sel> <command>`, output captured. Raises EstateError when
        Docker cannot be run at all."""
        argv = [*self.compose, *self.args(sel), *command]
        try:
            return subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.environment(sel, environ),
                check=False,
            )
        except OSError as exc:
            raise DockerMissing(
                f"cannot run `docker compose` ({exc.strerror}): install Docker"
            ) from None

    def render(self, sel: Selection, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The model of ``sel`` as `docker compose config --format json` renders it (cached per
        argument list and environment: treat it as read-only). Raises EstateError with
        Compose's message."""
        # what Compose sees decides the model: selections with the same arguments and
        # environment (a host without `env` and the stack alone) share one render
        key = (tuple(self.args(sel)), tuple(sorted(self.environment(sel, environ).items())))
        if key not in self._renders:
            proc = self.run(sel, "config", "--format", "json", environ=environ)
            if proc.returncode != 0:
                raise EstateError(f"{describe(sel)} does not render:\n{proc.stderr.strip()}")
            self._renders[key] = json.loads(proc.stdout)
        result: dict[str, Any] = self._renders[key]
        return result

    # checks

    def checks(self, envs: Iterable[str] = (), local: Selection | None = None) -> list[Selection]:
        """What `validate` renders: every stack of ``envs`` (all by default) on its own and on
        every host it is placed on; then ``local``'s stacks alone, and all together."""
        found: list[Selection] = []
        for env in list(envs) or self.envs():
            found += [Selection.stack(env, stack) for stack in self.stacks()]
            if env in self.placement:  # a host without `env` renders as the stack alone
                found += [
                    Selection.stack(env, stack, host.name)
                    for host in self.placement[env].values()
                    if host.env
                    for stack in host.stacks
                ]
        return found + (self.local_checks(local) if local is not None else [])

    @staticmethod
    def local_checks(local: Selection) -> list[Selection]:
        """The local stack's stacks each alone, then all together (what `make up` starts)."""
        return [local.alone(s) for s in local.stacks] + ([local] if len(local.stacks) > 1 else [])

    def validate(
        self,
        selections: Sequence[Selection],
        environ: Mapping[str, str] | None = None,
        workers: int = 4,
    ) -> list[str]:
        """`docker compose config -q` of each selection; a problem per one that fails."""

        found = self.problems(selections, environ, workers)
        return [f"error: {describe(sel)} is invalid:\n{reason}" for sel, reason in found if reason]

    def problems(
        self,
        selections: Sequence[Selection],
        environ: Mapping[str, str] | None = None,
        workers: int = 4,
    ) -> list[tuple[Selection, str]]:
        """(selection, why it does not render, or "") for each selection, in order."""

        def check(sel: Selection) -> tuple[Selection, str]:
            try:
                proc = self.run(sel, "config", "-q", environ=environ)
            except subprocess.TimeoutExpired:
                return sel, f"`docker compose config` did not finish in {RENDER_TIMEOUT} s"
            except EstateError as exc:
                return sel, str(exc)
            if proc.returncode == 0:
                return sel, ""
            return sel, proc.stderr.strip() or f"docker compose exited {proc.returncode}"

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(check, selections))


def compose_command(
    docker: str = "docker",
    environ: Mapping[str, str] | None = None,
    system_dirs: Sequence[str] = SYSTEM_PLUGIN_DIRS,
) -> list[str]:
    """See Estate.compose. The plugin is looked for where the Docker CLI looks, in its order."""
    environ = os.environ if environ is None else environ
    if shutil.which(docker, path=environ.get("PATH")) is None:
        return [docker, "compose"]
    config = environ.get("DOCKER_CONFIG") or os.path.join(environ.get("HOME", "/root"), ".docker")
    for directory in (os.path.join(config, "cli-plugins"), *system_dirs):
        plugin = os.path.join(directory, "docker-compose")
        if os.path.isfile(plugin) and os.access(plugin, os.X_OK):
            return [plugin]
    return [docker, "compose"]


def describe(sel: Selection) -> str:
    """``compose/stacks/data.yml (env prod, host qnap)`` or the local stack's stacks."""
    where = f"env {sel.env}" + (f", host {sel.host}" if sel.host else "")
    where += f", project {sel.project}" if sel.project else ""
    if len(sel.stacks) == 1:
        return f"compose/stacks/{sel.stacks[0]}.yml ({where})"
    return f"the stacks {' '.join(sel.stacks)} together ({where})"


def socket_gid(docker_host: str) -> int | None:
    """The group owning a local Docker socket (the socket proxies join it); None when the
    engine is not a local socket here."""
    parts = urlsplit(docker_host)
    if parts.scheme != "unix":
        return None
    try:
        st = os.stat(parts.path)
    except OSError:
        return None
    return st.st_gid if stat.S_ISSOCK(st.st_mode) else None


# -- networks ----------------------------------------------------------------------------------


def ensure_network(
    docker_host: str,
    name: str,
    internal: bool,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    docker: str = "docker",
    environ: Mapping[str, str] | None = None,
) -> str:
    """Create ``name`` on ``docker_host`` unless it exists; a line saying what was done. An
    existing network whose `internal` differs is an error (recreate it by hand once its
    containers are stopped)."""
    environ = os.environ if environ is None else environ
    env = {k: environ[k] for k in CLEAN_VARIABLES if k in environ} | {"DOCKER_HOST": docker_host}
    have = run(
        [docker, "network", "inspect", "-f", "{{.Internal}}", name],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    want = "true" if internal else "false"
    if have.returncode == 0:
        if have.stdout.strip() != want:
            raise EstateError(
                f"{name} on {docker_host}: internal={have.stdout.strip()}, expected {want} "
                "(remove it once its containers are stopped, then run again)"
            )
        return f"exists  {name} on {docker_host}"
    flag = ["--internal"] if internal else []
    made = run(
        [docker, "network", "create", *flag, name],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if made.returncode != 0:
        raise EstateError(f"cannot create {name} on {docker_host}: {made.stderr.strip()}")
    return f"created {name} on {docker_host}" + (" (--internal)" if internal else "")


# -- applying the estate: `estate up` and `estate diff` ------------------------------------------

WAIT_TIMEOUT = 300  # per stack: every container healthy (running, without a healthcheck)
PULL_TIMEOUT = 900  # per stack, on top of WAIT_TIMEOUT: pulling the images it lacks
ENGINE_TIMEOUT = 60  # one `docker` call to an engine
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
HASH_LABEL = "com.docker.compose.config-hash"  # what `docker compose up` compares
IMAGE_LABEL = "com.docker.compose.image"  # the image id the container was created from
ONEOFF_LABEL = "com.docker.compose.oneoff"
# exit statuses of `up` and `diff` (2 is bad usage or hosts.yml, as everywhere)
UP_OK, UP_FAILED, REFUSED = 0, 1, 3
DIFF_NONE, DIFF_CHANGES = 0, 1
# lines of `docker compose up` that only report progress (` Container x  Started`)
_CONTAINER_STEP = re.compile(r"^\s*(?:[✔✘⠿]\s*)?Container\s+(\S+)\s+(\w+)")
_CHANGING_STEPS = {"Create", "Created", "Recreate", "Recreated", "Start", "Started", "Remove",
                   "Removed", "Stop", "Stopped"}  # fmt: skip
_PROGRESS = re.compile(r"^\s*(Container|Network|Volume|Image)\s|^\s*$|^\s*[✔✘⠿]")


@dataclass
class StackReport:
    """One stack of one host in an `up`: valid, invalid, healthy, failed or not started."""

    stack: str
    project: str = ""
    result: str = "not started"
    reason: str = ""
    seconds: float | None = None
    services: dict[str, str] = field(default_factory=dict)  # service -> state
    # containers Compose created, recreated, started or removed (empty: nothing changed)
    changed: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)  # images pulled before anything started

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def changed_containers(output: str) -> list[str]:
    """Containers that `docker compose up` output says it created, recreated, started or
    removed (an unchanged one is only `Running`, `Waiting`, `Healthy`)."""
    found: dict[str, None] = {}
    for line in output.splitlines():
        match = _CONTAINER_STEP.match(line)
        if match and match.group(2) in _CHANGING_STEPS:
            found[match.group(1)] = None
    return list(found)


@dataclass
class HostReport:
    host: str
    docker_host: str
    stacks: list[StackReport]
    result: str = "not started"  # up, failed, refused, not started
    reason: str = ""
    networks: list[str] = field(default_factory=list)  # what was done, a line each

    def as_dict(self) -> dict[str, Any]:
        found = dict(vars(self))
        found["stacks"] = [s.as_dict() for s in self.stacks]
        return found


@dataclass
class UpReport:
    env: str
    hosts: list[HostReport]
    result: str = "refused"  # up (every stack healthy), failed, refused (nothing started)

    @property
    def status(self) -> int:
        return {"up": UP_OK, "failed": UP_FAILED}.get(self.result, REFUSED)

    def as_dict(self) -> dict[str, Any]:
        return {"env": self.env, "result": self.result, "hosts": [h.as_dict() for h in self.hosts]}


@dataclass
class ServiceDiff:
    """What `up` would do to one service: none, create, recreate, pull, start or remove."""

    service: str
    action: str
    reasons: list[str] = field(default_factory=list)
    running: dict[str, str] = field(default_factory=dict)  # container, image, hash, state
    wanted: dict[str, str] = field(default_factory=dict)  # image, config_hash
    notes: list[str] = field(default_factory=list)  # differences `up` leaves as they are

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class StackDiff:
    stack: str
    project: str = ""
    error: str = ""
    services: list[ServiceDiff] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "services": [s.as_dict() for s in self.services]}


@dataclass
class HostDiff:
    host: str
    docker_host: str
    stacks: list[StackDiff] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "stacks": [s.as_dict() for s in self.stacks]}


@dataclass
class DiffReport:
    env: str
    hosts: list[HostDiff]

    def changes(self) -> list[tuple[str, str, ServiceDiff]]:
        """(host, stack, service) of every service `up` would change."""
        return [
            (h.host, s.stack, d)
            for h in self.hosts
            for s in h.stacks
            for d in s.services
            if d.action != "none"
        ]

    @property
    def status(self) -> int:
        if any(h.error or any(s.error for s in h.stacks) for h in self.hosts):
            return REFUSED
        return DIFF_CHANGES if self.changes() else DIFF_NONE

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "changes": len(self.changes()),
            "hosts": [h.as_dict() for h in self.hosts],
        }


def container_state(attrs: Mapping[str, Any]) -> tuple[str, str]:
    """(state, detail) of an inspected container: healthy, unhealthy, starting, running,
    `exited N`, ...; the detail is the last health check's output or the engine's error."""
    st = attrs.get("State") or {}
    status = str(st.get("Status") or "unknown")
    health = st.get("Health") or {}
    if status == "running":
        state = str(health.get("Status") or "running")
    elif status == "exited":
        state = f"exited {st.get('ExitCode')}"
    else:
        state = status
    detail = str(st.get("Error") or "")
    log = health.get("Log") or []
    if state in ("unhealthy", "starting") and log:
        output = " ".join(str(log[-1].get("Output") or "").split())
        detail = f"last health check (exit {log[-1].get('ExitCode')}): {output[-300:]}"
    return state, detail


def compare(
    model: Mapping[str, Any],
    hashes: Mapping[str, str],
    containers: Sequence[Mapping[str, Any]],
    image_ids: Mapping[str, str | None],
) -> list[ServiceDiff]:
    """What `docker compose up` would change in one project: the rendered ``model``, Compose's
    config hash of each service (``docker compose config --hash '*'``), the project's
    inspected ``containers`` and the engine's id of each wanted image (None: not there).
    Compose recreates a container whose config-hash label or image-id label differs; so does
    this, and it adds what it sees but `up` keeps (an image deployed by the deploy sidecar)."""
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for attrs in containers:
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        by_service.setdefault(str(labels.get(SERVICE_LABEL, "")), []).append(attrs)
    found = []
    services = model.get("services") or {}
    for name in sorted(services):
        image = str(services[name].get("image") or "")
        wanted = {"image": image, "config_hash": hashes.get(name, "")}
        have = sorted(
            by_service.pop(name, []),
            key=lambda c: ((c.get("State") or {}).get("Status") != "running", c.get("Name", "")),
        )
        image_id = image_ids.get(image)
        if not have:
            reasons = ["no container"]
            if image_id is None:
                reasons.append(f"{image} is not on the engine: up pulls it")
            found.append(ServiceDiff(name, "create", reasons, wanted=wanted))
            continue
        attrs = have[0]
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        state, _ = container_state(attrs)
        running = {
            "container": str(attrs.get("Name", "")).lstrip("/"),
            "image": str((attrs.get("Config") or {}).get("Image") or ""),
            "image_id": str(labels.get(IMAGE_LABEL, "")),
            "config_hash": str(labels.get(HASH_LABEL, "")),
            "state": state,
        }
        reasons, notes, action = [], [], "none"
        if running["config_hash"] != wanted["config_hash"]:
            reasons.append(
                f"configuration changed (config hash {running['config_hash'][:12] or 'none'}"
                f" -> {wanted['config_hash'][:12]})"
            )
            if running["image"] != image:
                reasons.append(f"image {running['image']} -> {image}")
            action = "recreate"
        if image_id is None:
            reasons.append(f"{image} is not on the engine: up pulls it (recreates if it differs)")
            action = action if action != "none" else "pull"
        elif running["image_id"] != image_id and running["image"] == image:
            reasons.append(
                f"{image} is now {image_id[:19]}, the container was made from "
                f"{running['image_id'][:19] or 'an unknown image'}"
            )
            action = "recreate"
        if action == "none" and running["image"] != image:
            notes.append(
                f"runs {running['image']} (a deploy?) where the files say {image}; "
                "Compose's hash matches, so up keeps it"
            )
        if action == "none" and not state.startswith(("running", "healthy", "starting")):
            action = "start"
            reasons.append(f"the container is {state}")
        if len(have) > 1:
            notes.append(f"{len(have)} containers: {', '.join(str(c.get('Name')) for c in have)}")
        found.append(ServiceDiff(name, action, reasons, running, wanted, notes))
    for name, extra in sorted(by_service.items()):
        names = ", ".join(str(c.get("Name", "")).lstrip("/") for c in extra)
        found.append(
            ServiceDiff(
                name or "(no service label)",
                "remove",
                [f"not in the files ({names}): up removes it (--remove-orphans)"],
                running={"container": names},
            )
        )
    return found


class Applier:
    """`estate up` and `estate diff` for an Estate: hosts of compose/hosts.yml, their engines
    (each host's docker_host, never the caller's), networks and stacks in order."""

    def __init__(
        self,
        estate: Estate,
        environ: Mapping[str, str] | None = None,
        progress: Callable[[str], None] | None = None,
    ):
        self.estate = estate
        self.environ = dict(os.environ if environ is None else environ)
        self.progress = progress or (lambda line: None)

    # the engine of a host

    def engine_environment(self, host: Host) -> dict[str, str]:
        """What the Docker CLI needs to reach ``host``'s engine: the caller's PATH, HOME and
        DOCKER_CONFIG, DOCKER_HOST = its docker_host, and with docker_cert_path (relative to
        compose/) TLS verification with that folder. The caller's own DOCKER_HOST, context
        and TLS settings never apply to a host of hosts.yml."""
        keep = ("PATH", "HOME", "DOCKER_CONFIG")
        found: dict[str, str] = {k: self.environ[k] for k in keep if k in self.environ}
        found["DOCKER_HOST"] = host.docker_host
        if host.docker_cert_path:
            path = self.estate.dir / host.docker_cert_path
            found |= {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(path)}
        return found

    def docker(
        self, host: Host, *args: str, timeout: float = ENGINE_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """`docker ARGS` against ``host``'s engine. Raises EstateError when it cannot run or
        does not answer in time."""
        try:
            return subprocess.run(
                [self.estate.docker, *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.engine_environment(host),
                check=False,
            )
        except OSError as exc:
            raise DockerMissing(f"cannot run `docker` ({exc.strerror}): install Docker") from None
        except subprocess.TimeoutExpired:
            raise EstateError(
                f"`docker {args[0]}` on {host.docker_host} did not answer in {timeout:g} s"
            ) from None

    def reach(self, host: Host) -> str:
        """Why ``host``'s engine does not answer ("" when it does)."""
        try:
            proc = self.docker(host, "version", "--format", "{{.Server.Version}}")
        except EstateError as exc:
            return str(exc)
        if proc.returncode == 0 and proc.stdout.strip():
            return ""
        tail = " ".join(proc.stderr.strip().splitlines()[-3:]) or f"exit {proc.returncode}"
        return f"cannot reach the engine {host.docker_host}: {tail}"

    def containers(self, host: Host, project: str, again: bool = True) -> list[dict[str, Any]]:
        """`docker inspect` of ``project``'s containers on ``host`` (one-off runs left out)."""
        listed = self.docker(host, "ps", "-aq", "--filter", f"label={PROJECT_LABEL}={project}")
        if listed.returncode != 0:
            raise EstateError(f"docker ps on {host.docker_host}: {listed.stderr.strip()}")
        ids = listed.stdout.split()
        if not ids:
            return []
        inspected = self.docker(host, "inspect", *ids)
        if inspected.returncode != 0:  # one went away meanwhile: ask again once
            if again:
                return self.containers(host, project, again=False)
            raise EstateError(f"docker inspect on {host.docker_host}: {inspected.stderr.strip()}")
        return [
            c
            for c in json.loads(inspected.stdout)
            if ((c.get("Config") or {}).get("Labels") or {}).get(ONEOFF_LABEL) != "True"
        ]

    def image_id(self, host: Host, image: str) -> str | None:
        proc = self.docker(host, "image", "inspect", "--format", "{{.Id}}", image)
        return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None

    def hosts(self, env: str, host: str | None) -> list[Host]:
        """The hosts of ``env`` (all, or the one named). Raises UsageError."""
        if host is not None:
            return [self.estate.host(env, host)]
        return list(self.estate.hosts(env).values())

    # up

    def up(
        self,
        env: str,
        host: str | None = None,
        wait_timeout: float = WAIT_TIMEOUT,
        pull_timeout: float = PULL_TIMEOUT,
    ) -> UpReport:
        """Validate every stack of the selected hosts, reach their engines and pull the images
        they lack (at most ``pull_timeout`` s each); when all is well, create each host's
        networks and start its stacks in order, each waited on until healthy (at most
        ``wait_timeout`` s). Nothing is started when anything is invalid or
        unreachable; on a host, the stacks after one that fails are not started. Raises
        UsageError for an unknown environment or host, or a broken hosts.yml."""
        hosts = self.hosts(env, host)
        report = UpReport(
            env,
            [HostReport(h.name, h.docker_host, [StackReport(s) for s in h.stacks]) for h in hosts],
        )
        if not self._preflight(env, hosts, report, pull_timeout):
            for hr in report.hosts:
                hr.result = "refused" if hr.reason else "not started"
            report.result = "refused"
            return report
        for h, hr in zip(hosts, report.hosts, strict=True):
            self._up_host(env, h, hr, wait_timeout, pull_timeout)
        report.result = "up" if all(hr.result == "up" for hr in report.hosts) else "failed"
        return report

    def _preflight(
        self, env: str, hosts: Sequence[Host], report: UpReport, pull_timeout: float
    ) -> bool:
        """Every stack renders and every engine answers; then every image the stacks name is
        on its host's engine (pulled when missing). False (reasons in ``report``) when not."""
        reports = {(hr.host, sr.stack): sr for hr in report.hosts for sr in hr.stacks}
        selections = [Selection.stack(env, s, h.name) for h in hosts for s in h.stacks]
        self.progress(f"validating {len(selections)} stacks on {len(hosts)} hosts ...")

        def render(sel: Selection) -> tuple[Selection, str, str]:
            try:
                model = self.estate.render(sel, self.environ)
            except subprocess.TimeoutExpired:
                return sel, "", f"`docker compose config` did not finish in {RENDER_TIMEOUT} s"
            except EstateError as exc:
                return sel, "", str(exc).split(":\n", 1)[-1]
            return sel, str(model.get("name") or ""), ""

        with ThreadPoolExecutor(max_workers=4) as pool:
            rendered = list(pool.map(render, selections))
            unreachable = dict(
                zip([h.name for h in hosts], pool.map(self.reach, hosts), strict=True)
            )
        ok = True
        for sel, project, problem in rendered:
            sr = reports[(sel.host or "", sel.stacks[0])]
            sr.project = project
            if problem:
                sr.result, sr.reason, ok = "invalid", problem, False
            elif not self.estate.names_its_project(sel.stacks[0]):
                reason = "the stack file sets no `name:` (Compose would name it after its folder)"
                sr.result, sr.reason, ok = "invalid", reason, False
            else:
                sr.result = "valid"
        for h, hr in zip(hosts, report.hosts, strict=True):
            if unreachable[h.name]:
                hr.reason, ok = unreachable[h.name], False
        if ok:
            for h, hr in zip(hosts, report.hosts, strict=True):
                for sr in hr.stacks:
                    ok = self._pull(env, h, sr, pull_timeout) and ok
        if not ok:
            for sr in reports.values():
                if sr.result == "valid":
                    sr.result = "not started"
        return ok

    def _pull(self, env: str, host: Host, sr: StackReport, timeout: float) -> bool:
        """Pull the images of ``sr``'s stack that ``host``'s engine lacks (so that a missing
        image or an unreachable registry stops the run before anything starts)."""
        model = self.estate.render(Selection.stack(env, sr.stack, host.name), self.environ)
        images = sorted({str(s.get("image") or "") for s in model.get("services", {}).values()})
        failed = []
        for image in images:
            if not image or self.image_id(host, image) is not None:
                continue
            self.progress(f"{host.name}: pulling {image} ...")
            try:
                proc = self.docker(host, "pull", "--quiet", image, timeout=timeout)
            except EstateError as exc:
                failed.append(f"{image} cannot be pulled: {exc}")
                continue
            if proc.returncode == 0:
                sr.pulled.append(image)
            else:
                tail = " ".join(proc.stderr.strip().splitlines()[-2:])
                failed.append(f"{image} cannot be pulled on {host.docker_host}: {tail}")
        if failed:
            sr.result, sr.reason = "no image", "; ".join(failed)
        return not failed

    def _up_host(
        self, env: str, host: Host, hr: HostReport, wait_timeout: float, pull_timeout: float
    ) -> None:
        environ = self.engine_environment(host)
        try:
            for _, net, internal in (
                n for n in self.estate.networks(env) if n[0].name == host.name
            ):
                hr.networks.append(
                    ensure_network(
                        host.docker_host, net, internal, docker=self.estate.docker, environ=environ
                    )
                )
                self.progress(f"{host.name}: {hr.networks[-1]}")
        except EstateError as exc:
            hr.result, hr.reason = "failed", f"networks: {exc}"
            for sr in hr.stacks:
                sr.result, sr.reason = "not started", "the host's networks failed"
            return
        failed = ""
        for sr in hr.stacks:
            if failed:
                sr.result, sr.reason = "not started", f"{failed} failed before it"
                continue
            self._up_stack(env, host, sr, environ, wait_timeout, pull_timeout)
            if sr.result != "healthy":
                failed = sr.stack
        hr.result = "failed" if failed else "up"
        if failed:
            hr.reason = f"stack {failed} failed"

    def _up_stack(
        self,
        env: str,
        host: Host,
        sr: StackReport,
        environ: Mapping[str, str],
        wait_timeout: float,
        pull_timeout: float,
    ) -> None:
        sel = Selection.stack(env, sr.stack, host.name)
        self.progress(f"{host.name}: starting {sr.stack} (project {sr.project}) ...")
        started = time.monotonic()
        wait = str(max(1, round(wait_timeout)))
        problem = ""
        try:
            proc = self.estate.run(
                sel,
                *("up", "--detach", "--wait", "--wait-timeout", wait, "--remove-orphans"),
                environ=environ,
                timeout=wait_timeout + pull_timeout,
            )
            sr.changed = changed_containers(proc.stderr + proc.stdout)
            if proc.returncode != 0:
                lines = [ln.strip() for ln in proc.stderr.splitlines() if not _PROGRESS.match(ln)]
                problem = "; ".join(lines[-4:]) or f"docker compose up exited {proc.returncode}"
        except subprocess.TimeoutExpired:
            problem = f"`docker compose up` did not finish in {wait_timeout + pull_timeout:g} s"
        except EstateError as exc:
            problem = str(exc)
        sr.seconds = round(time.monotonic() - started, 1)
        details = []
        try:
            for attrs in self.containers(host, sr.project):
                service = ((attrs.get("Config") or {}).get("Labels") or {}).get(SERVICE_LABEL, "")
                state, detail = container_state(attrs)
                sr.services[service] = state
                # a one-shot service that finished well (depends_on: service_completed_...)
                if state not in ("healthy", "running", "exited 0"):
                    details.append(f"{service} {state}" + (f": {detail}" if detail else ""))
        except EstateError as exc:
            details.append(str(exc))
        if problem or details:
            sr.result = "failed"
            sr.reason = "; ".join(filter(None, [problem, *details]))
        else:
            sr.result = "healthy"
        self.progress(f"{host.name}: {sr.stack} {sr.result} in {sr.seconds:g} s")

    # diff

    def diff(self, env: str, host: str | None = None) -> DiffReport:
        """What `up` would change, per service of every stack of the selected hosts: running
        against wanted (Compose's config hash, image, missing and extra containers). Changes
        nothing. Raises UsageError as `up` does."""
        report = DiffReport(env, [])
        for h in self.hosts(env, host):
            hd = HostDiff(h.name, h.docker_host)
            report.hosts.append(hd)
            hd.error = self.reach(h)
            if hd.error:
                continue
            for stack in h.stacks:
                hd.stacks.append(self._diff_stack(env, h, stack))
        return report

    def _diff_stack(self, env: str, host: Host, stack: str) -> StackDiff:
        sel = Selection.stack(env, stack, host.name)
        sd = StackDiff(stack)
        try:
            model = self.estate.render(sel, self.environ)
            sd.project = str(model.get("name") or "")
            proc = self.estate.run(sel, "config", "--hash", "*", environ=self.environ)
            if proc.returncode != 0:
                raise EstateError(proc.stderr.strip())
            hashes = dict(ln.split(None, 1) for ln in proc.stdout.splitlines() if ln.strip())
            containers = self.containers(host, sd.project)
            images = {str(s.get("image") or "") for s in (model.get("services") or {}).values()}
            ids = {image: self.image_id(host, image) for image in sorted(images)}
        except subprocess.TimeoutExpired:
            sd.error = f"`docker compose config` did not finish in {RENDER_TIMEOUT} s"
            return sd
        except EstateError as exc:
            sd.error = str(exc).split(":\n", 1)[-1]
            return sd
        sd.services = compare(model, hashes, containers, ids)
        return sd


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def up_lines(report: UpReport) -> list[str]:
    """The human table of an `up`: a row per host and stack, then the reasons."""
    rows = [("HOST", "STACK", "PROJECT", "RESULT", "SECONDS", "CHANGED")]
    reasons = []
    for hr in report.hosts:
        for sr in hr.stacks:
            secs = "" if sr.seconds is None else f"{sr.seconds:g}"
            changed = "" if sr.seconds is None else str(len(sr.changed))
            rows.append((hr.host, sr.stack, sr.project, sr.result, secs, changed))
            if sr.reason:
                reasons.append(f"  {hr.host}/{sr.stack}: {sr.reason}")
        if hr.reason:
            reasons.insert(0, f"  {hr.host}: {hr.reason}")
    summary = {
        "up": f"estate {report.env}: every stack is up and healthy",
        "failed": f"estate {report.env}: FAILED (the stacks after a failed one were not started)",
        "refused": f"estate {report.env}: REFUSED, nothing was started",
    }[report.result]
    pulled = [i for hr in report.hosts for sr in hr.stacks for i in sr.pulled]
    if pulled:
        summary += f" ({len(pulled)} image(s) pulled first)"
    return _table(rows) + (["", "why:", *reasons] if reasons else []) + ["", summary]


def diff_lines(report: DiffReport) -> list[str]:
    """The human table of a `diff`: every service `up` would change, and why."""
    rows = [("HOST", "STACK", "SERVICE", "ACTION", "WHY")]
    notes, errors, unchanged = [], [], 0
    for hd in report.hosts:
        if hd.error:
            errors.append(f"  {hd.host}: {hd.error}")
        for sd in hd.stacks:
            if sd.error:
                errors.append(f"  {hd.host}/{sd.stack}: {sd.error}")
            for d in sd.services:
                if d.action == "none":
                    unchanged += 1
                else:
                    rows.append((hd.host, sd.stack, d.service, d.action, "; ".join(d.reasons)))
                notes += [f"  {hd.host}/{sd.stack}/{d.service}: {n}" for n in d.notes]
    lines = _table(rows) if len(rows) > 1 else []
    if notes:
        lines += ["", "noted, left as it is by up:", *notes]
    if errors:
        lines += ["", "not compared:", *errors]
    changed = len(rows) - 1
    lines += [
        "",
        f"estate {report.env}: {changed} service(s) would change, {unchanged} unchanged"
        + (", some stacks could not be compared" if errors else ""),
    ]
    return lines


# -- command line ------------------------------------------------------------------------------

USAGE = """\
examples:
  estate envs                       environments, one a line
  estate stacks [--env prod --host qnap]
  estate hosts --env prod           name, DOCKER_HOST and stacks of each host
  estate networks --env prod [--create]
  estate args [--local | --env E --stack S [--host H]]     one argument a line
  estate environment [selection]    the environment Compose runs with (KEY=VALUE lines)
  estate render [selection] [--format json|yaml]
  estate compose [selection] -- up --detach ...             run Compose on the selection
  estate project                    the local stack's Compose project name
  estate validate [--env E ...] [--local | --no-local]
  estate up --env E [--host H] [--json] [--wait-timeout S]   apply hosts.yml (make estate-up)
  estate diff --env E [--host H] [--json]                    what `up` would change

The local stack (--local, the default where a selection is needed and no --stack is given)
reads ENV, NAPOPS_STACKS and NAPOPS_PROJECT. Exit status: 0 ok, 1 a check failed or Compose
failed, 2 bad arguments or a broken compose/hosts.yml. `up`: 0 every stack healthy, 1 a
stack (or a host's networks) failed, 3 refused: a stack is invalid, an engine unreachable or
an image cannot be pulled, nothing was started. `diff`: 0 nothing would change, 1 something
would, 3 a stack or an engine could not be compared.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="estate",
        description=__doc__.split("\n", 1)[0] if __doc__ else None,
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--compose-dir", type=Path, default=COMPOSE_DIR, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("envs", help="environments")
    p = sub.add_parser("stacks", help="stacks (of one host, with --env and --host)")
    p.add_argument("--env")
    p.add_argument("--host")
    p = sub.add_parser("hosts", help="hosts of an environment")
    p.add_argument("--env", default=os.environ.get("ENV") or "dev")
    p = sub.add_parser("networks", help="external networks of an environment's hosts")
    p.add_argument("--env", default=os.environ.get("ENV") or "dev")
    p.add_argument("--create", action="store_true", help="create the missing ones")
    sub.add_parser("project", help="the local stack's Compose project name")
    for name, text in (
        ("args", "Compose arguments of a selection"),
        ("environment", "the environment Compose runs with"),
        ("render", "docker compose config of a selection"),
        ("compose", "run docker compose on a selection"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--env", help="environment (default: ENV, or dev)")
        p.add_argument("--stack", action="append", help="an estate stack (repeatable)")
        p.add_argument("--host", help="a host of compose/hosts.yml whose env applies")
        p.add_argument("--local", action="store_true", help="the local stack (default)")
        p.add_argument("--project", help="Compose project name")
        if name == "render":
            p.add_argument("--format", choices=("json", "yaml"), default="yaml")
        if name == "compose":
            p.add_argument("--project-only", action="store_true", help="no files: -p only")
            p.add_argument("compose_args", nargs=argparse.REMAINDER)
    for name, text in (
        ("up", "validate, create the networks, start every host's stacks in order, wait healthy"),
        ("diff", "what `up` would change, per service (changes nothing)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--env", required=True, help="environment of compose/hosts.yml")
        p.add_argument("--host", help="only this host of the environment")
        p.add_argument("--json", action="store_true", help="the report as JSON on stdout")
        if name == "up":
            p.add_argument(
                "--wait-timeout",
                type=float,
                default=WAIT_TIMEOUT,
                metavar="S",
                help=f"per stack, seconds until healthy (default {WAIT_TIMEOUT})",
            )
            p.add_argument(
                "--pull-timeout",
                type=float,
                default=PULL_TIMEOUT,
                metavar="S",
                help=f"per stack, more seconds for pulling images (default {PULL_TIMEOUT})",
            )
    p = sub.add_parser("validate", help="render every selection; start nothing")
    p.add_argument("--env", action="append", help="environment (repeatable; default all)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--local", dest="mode", action="store_const", const="local-only",
                       help="only the local stack (what `make up` checks first)")  # fmt: skip
    group.add_argument("--no-local", dest="mode", action="store_const", const="estate-only",
                       help="only the estate's stacks")  # fmt: skip
    return parser


def _selection(estate: Estate, args: argparse.Namespace) -> Selection:
    if args.stack and args.local:
        raise UsageError("give --stack or --local, not both")
    if args.stack:
        env = estate.check_env(args.env or os.environ.get("ENV") or "dev")
        if args.host is not None:
            estate.host(env, args.host)
        return Selection(env, tuple(args.stack), args.project, args.host)
    if args.host:
        raise UsageError("--host applies to --stack selections only")
    sel = Selection.local_stack(env=args.env, project=args.project)
    estate.check_env(sel.env)
    return sel


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    estate = Estate(args.compose_dir)
    try:
        return _command(estate, args)
    except UsageError as exc:
        print(f"estate: error: {exc}", file=sys.stderr)
        return 2
    except EstateError as exc:
        print(f"estate: error: {exc}", file=sys.stderr)
        return 1


def _command(estate: Estate, args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "envs":
        print(*estate.envs(), sep="\n")
    elif cmd == "stacks":
        if args.host and not args.env:
            raise UsageError("--host needs --env")
        if args.env and args.host:
            print(*estate.host(args.env, args.host).stacks, sep="\n")
        elif args.env:
            placed = [s for h in estate.hosts(args.env).values() for s in h.stacks]
            print(*dict.fromkeys(placed), sep="\n")
        else:
            print(*estate.stacks(), sep="\n")
    elif cmd == "hosts":
        for host in estate.hosts(args.env).values():
            print(host.name, host.docker_host, " ".join(host.stacks), sep="\t")
    elif cmd == "networks":
        applier = Applier(estate)
        for host, net, internal in estate.networks(args.env):
            if args.create:
                environ = applier.engine_environment(host)
                print(ensure_network(host.docker_host, net, internal, environ=environ))
            else:
                print(host.name, host.docker_host, net, str(internal).lower(), sep="\t")
    elif cmd == "project":
        sel = Selection.local_stack()
        estate.check_env(sel.env)
        print(sel.project)
    elif cmd == "args":
        print(*estate.args(_selection(estate, args)), sep="\n")
    elif cmd == "environment":
        for key, value in sorted(estate.environment(_selection(estate, args)).items()):
            print(f"{key}={value}")
    elif cmd == "render":
        proc = estate.run(_selection(estate, args), "config", "--format", args.format)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        return 0 if proc.returncode == 0 else 1
    elif cmd == "compose":
        return _compose(estate, args)
    elif cmd == "validate":
        return _validate(estate, args)
    elif cmd in ("up", "diff"):
        return _apply(estate, args)
    return 0


def _apply(estate: Estate, args: argparse.Namespace) -> int:
    """`up` or `diff`: progress on stderr, the table (or --json) on stdout."""
    estate.check_env(args.env)
    applier = Applier(estate, progress=lambda line: print(line, file=sys.stderr, flush=True))
    report: UpReport | DiffReport
    if args.command == "up":
        if args.wait_timeout <= 0 or args.pull_timeout < 0:
            raise UsageError("--wait-timeout must be above 0 and --pull-timeout not below 0")
        report = applier.up(args.env, args.host, args.wait_timeout, args.pull_timeout)
        lines = up_lines(report)
    else:
        report = applier.diff(args.env, args.host)
        lines = diff_lines(report)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(*lines, sep="\n")
    return report.status


def _compose(estate: Estate, args: argparse.Namespace) -> int:
    """Replace this process with `docker compose <args> <compose_args>` (output and exit
    status are Compose's own)."""
    sel = _selection(estate, args)
    rest = args.compose_args[1:] if args.compose_args[:1] == ["--"] else args.compose_args
    if not rest:
        raise UsageError("no Compose command after --")
    front = ["--project-name", sel.project or ""] if args.project_only else estate.args(sel)
    if args.project_only and not sel.project:
        raise UsageError("--project-only needs a project (the local stack has one)")
    argv = [*estate.compose, *front, *rest]
    try:
        os.execvpe(argv[0], argv, estate.environment(sel))  # noqa: S606 - no shell wanted
    except OSError as exc:
        raise EstateError(f"cannot run `docker compose` ({exc.strerror}): install Docker") from None
    return 1  # not reached


def _validate(estate: Estate, args: argparse.Namespace) -> int:
    envs = [estate.check_env(env) for env in args.env or []]
    local = Selection.local_stack()
    estate.check_env(local.env)
    if args.mode == "local-only":
        selections = estate.local_checks(local)
    else:
        selections = estate.checks(envs, local=None if args.mode == "estate-only" else local)
    problems = estate.validate(selections)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    rendered = [s for s in selections if not s.local]
    if rendered:
        for env in sorted({s.env for s in rendered}):
            hosts = sorted({s.host for s in rendered if s.env == env and s.host})
            print(
                f"compose: {' '.join(estate.stacks())} render for {env}"
                + (f" (alone and on {', '.join(hosts)})" if hosts else "")
            )
    if any(s.local for s in selections):
        print(f"stacks {' '.join(local.stacks)} render for {local.env} (project {local.project})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
