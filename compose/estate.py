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
  (the local stack: its LOCAL_VARIABLES, and NODE_TEXTFILE_VOLUME named after its project),
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
import stat
import subprocess
import sys
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
LOCAL_STACKS = ("monitoring", "agents", "napops")
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
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
RENDER_TIMEOUT = 120


class EstateError(Exception):
    """Something about the estate's files or Compose is wrong; the message says what."""


class DockerMissing(EstateError):
    """`docker compose` cannot be run at all."""


class UsageError(EstateError):
    """The caller asked for something that does not exist (exit status 2)."""


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

    @property
    def addresses(self) -> set[str]:
        """Names the other hosts reach it under: its key and its docker_host's hostname."""
        hostname = urlsplit(self.docker_host).hostname
        return {self.name} | ({hostname} if hostname else set())


HOST_KEYS = {
    "docker_host",
    "stacks",
    "networks",
    "internal_networks",
    "env",
    "address",
    "data_roots",
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
        if not isinstance(host.get("docker_host"), str) or not host["docker_host"]:
            problems.append(f"At '{at}.docker_host': required, a DOCKER_HOST URL")
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

    @functools.cached_property
    def placement(self) -> dict[str, dict[str, Host]]:
        """compose/hosts.yml: environment -> host name -> Host. Raises EstateError."""
        path = self.dir / "hosts.yml"
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise EstateError(f"cannot read {path}: {exc.strerror}") from None
        doc = parse_yaml_subset(text, "compose/hosts.yml")
        if not isinstance(doc, dict) or not isinstance(doc.get("environments"), dict):
            raise EstateError("At 'compose/hosts.yml': expected `environments:` at the top")
        found, problems = {}, []
        for env, spec in doc["environments"].items():
            found[env], more = _hosts_of(env, spec, f"environments.{env}")
            problems += more
        if problems:
            raise EstateError("compose/hosts.yml:\n" + "\n".join(problems))
        return found

    def hosts(self, env: str) -> dict[str, Host]:
        self.check_env(env)
        if env not in self.placement:
            raise EstateError(f"compose/hosts.yml places nothing for environment {env!r}")
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
            # its volumes are its own: named after the project, not the environment
            found["NODE_TEXTFILE_VOLUME"] = f"{sel.project}-node-textfile"
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
        argv = [self.docker, "compose", *self.args(sel), *command]
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

        def check(sel: Selection) -> str:
            proc = self.run(sel, "config", "-q", environ=environ)
            return (
                ""
                if proc.returncode == 0
                else f"error: {describe(sel)} is invalid:\n"
                + (proc.stderr.strip() or f"docker compose exited {proc.returncode}")
            )

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return [p for p in pool.map(check, selections) if p]


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

The local stack (--local, the default where a selection is needed and no --stack is given)
reads ENV, NAPOPS_STACKS and NAPOPS_PROJECT. Exit status: 0 ok, 1 a check failed or Compose
failed, 2 bad arguments.
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
        for host, net, internal in estate.networks(args.env):
            if args.create:
                print(ensure_network(host.docker_host, net, internal))
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
    return 0


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
    argv = [estate.docker, "compose", *front, *rest]
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
