"""A Docker socket proxy as the estate's agents stack runs it, and what it was asked for.

:func:`started` runs the local stand-in of tecnativa/docker-socket-proxy (compose/images/
socket-proxy, `make images`) with exactly the environment the rendered agents stack gives one
of its proxy services, published on 127.0.0.1, so a sidecar's code can be pointed at it
(``DOCKER_HOST=tcp://127.0.0.1:PORT``). Afterwards :meth:`Proxy.requests` reads the requests
from its log and :func:`needed` derives, from the proxy's own haproxy.cfg, the switches
(CONTAINERS, EXEC, POST, ...) those requests need: nothing here lists endpoints by hand.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers import ROOT, free_port, missing, wait_for

IMAGE = "napops-local/socket-proxy:2.6-debian12"
HAPROXY_CFG = ROOT / "compose" / "images" / "socket-proxy" / "haproxy.cfg"
# `http-request allow if { path,url_dec -m reg -i REGEX } { env(NAME) -m bool }`
RULE = re.compile(r"http-request allow if \{ path,url_dec -m reg -i (\S+) \} \{ env\((\w+)\)")
# haproxy's httplog line: "... <status> <bytes> ... "METHOD PATH HTTP/1.1""
LOG = re.compile(r" (?P<status>\d{3}) \d+ .*\"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/")
READS = ("GET", "HEAD")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


def rules(cfg: Path = HAPROXY_CFG) -> list[tuple[re.Pattern[str], str]]:
    """The proxy's path rules in order: (path regex, switch that allows it)."""
    found = [(re.compile(rx, re.I), name) for rx, name in RULE.findall(cfg.read_text("utf-8"))]
    assert found, f"no allow rules found in {cfg}"
    return found


def switch_of(path: str, cfg_rules: list[tuple[re.Pattern[str], str]]) -> str | None:
    """The API section switch (CONTAINERS, EXEC, ...) whose rule allows ``path``; the
    lifecycle shortcuts (ALLOW_START, ...) are left aside: the section with POST covers them."""
    bare = path.split("?", 1)[0]
    for rx, name in cfg_rules:
        if not name.startswith("ALLOW_") and rx.search(bare):
            return name
    return None


def needed(requests: Iterable[Request]) -> set[str]:
    """The switches that allow every one of ``requests``: their sections, and POST when any
    of them writes."""
    cfg_rules = rules()
    out: set[str] = set()
    for req in requests:
        name = switch_of(req.path, cfg_rules)
        assert name is not None, f"no rule of the proxy allows {req.method} {req.path}"
        out.add(name)
        if req.method not in READS:
            out.add("POST")
    return out


class Proxy:
    def __init__(self, name: str, port: int):
        self.name, self.port = name, port

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def enabled(self) -> set[str]:
        """The switches that are on (=1) in the running proxy: the image's defaults with the
        stack's environment over them, as the container really has them."""
        env = subprocess.run(
            ["docker", "inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", self.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        switches = set(re.findall(r"env\((\w+)\)", HAPROXY_CFG.read_text("utf-8")))
        return {
            k for k, _, v in (e.partition("=") for e in env) if k in switches and v.strip() == "1"
        }

    def requests(self) -> list[Request]:
        out = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True)
        found = []
        for line in (out.stdout + out.stderr).splitlines():
            m = LOG.search(line)
            if m:
                found.append(Request(m["method"], m["path"], int(m["status"])))
        return found


@contextmanager
def started(environment: dict[str, object], prefix: str) -> Iterator[Proxy]:
    """The proxy with ``environment`` (a rendered service's), reading this host's socket."""
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        missing(f"image {IMAGE} (make images builds it)")
    name = f"{prefix}-socket-proxy-{secrets.token_hex(3)}"
    port = free_port()
    gid = str(Path("/var/run/docker.sock").stat().st_gid)
    argv = ["docker", "run", "-d", "--name", name, "--group-add", gid,
            "-v", "/var/run/docker.sock:/var/run/docker.sock:ro",
            "-p", f"127.0.0.1:{port}:2375"]  # fmt: skip
    # the stack's environment, except that every request is logged (the stack logs warnings
    # only): the log level changes what is written, not what is allowed
    for key, value in (dict(environment) | {"LOG_LEVEL": "info"}).items():
        argv += ["-e", f"{key}={value}"]
    subprocess.run([*argv, IMAGE], check=True, capture_output=True)
    proxy = Proxy(name, port)
    try:
        wait_for(lambda: _pings(port), 30, what=f"{name} answering")
        yield proxy
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def _pings(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_ping", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False
