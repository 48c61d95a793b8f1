"""The deploy tests' world: a real registry, the test app in several versions, and a small
estate (the project's nginx edge in front of an `apps` stack) as Compose projects.

The edge runs the napops-local nginx stand-in (Debian nginx 1.22) with the project's own
compose/config/edge files. Two constructs of the pinned nginx 1.28 are backported, as in
tests/compose/test_edge_nginx_config.py: `http2 on;` becomes the listen flag, and the upstream
`server NAME:PORT resolve;` (re-resolved through Docker's DNS, 1.27.3+) becomes its 1.22
equivalent: `proxy_pass http://$var` with the same name, which nginx resolves through the
same `resolver` at request time. Everything else is used as written.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
from estate import compose_command
from tlscert import self_signed

from helpers import ROOT, free_port, wait_for

EDGE = ROOT / "compose" / "config" / "edge"
APP = Path(__file__).resolve().parent / "app"
DOMAIN = "np-dms.test"
SITE = "backend"  # templates/backend.conf.template: backend.<domain>, every path to the backend
NGINX_IMAGE = "napops-local/nginx:1.22-debian12"
PYTHON_IMAGE = "napops-local/python:3.11-bookworm"


COMPOSE = compose_command()  # the plugin itself, as the estate tool runs it


def run(
    *argv: str, check: bool = True, timeout: float = 300, **kw: object
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc  # type: ignore[no-any-return]


# -- the registry ------------------------------------------------------------------------------
@contextmanager
def registry(root: Path, user: str | None = None, password: str | None = None) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1:<port> (htpasswd auth when a user is given)."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    auth = ""
    if user and password:
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
        (root / "htpasswd").write_text(f"{user}:{hashed}\n")
        auth = f"auth:\n  htpasswd:\n    realm: deploy-tests\n    path: {root / 'htpasswd'}\n"
    (root / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + auth
    )
    log = (root / "registry.log").open("wb")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(root / "config.yml")], stderr=log, stdout=log
    )
    try:
        wait_for(lambda: _http_ok(port), timeout=20, what="the registry")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _http_ok(port: int) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2)
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    return True


VERSIONS = {"v1": "good", "v2": "good", "v3": "never", "v4": "sour"}


# Every build also tags the image here, and nothing removes these tags. Removing an image's
# last tag removes its untagged parents too: the legacy builder's cache. A module dropping its
# registry tags then pulled the cache from under another worker's build of the same app
# ("unknown parent image ID" in a full run). With this tag kept, dropping a registry tag only
# untags, and the registry tag is still absent locally, so deploys still pull.
KEPT = "napops-test/deploy-e2e-app"


def build_and_push(registry_addr: str, repo: str = "deploy-e2e/app") -> dict[str, str]:
    """Build the app in every version, push it, drop the local tags: deploys must pull."""
    images = {}
    for version, mode in VERSIONS.items():
        tag = f"{registry_addr}/{repo}:{version}"
        run(
            "docker",
            "build",
            "-q",
            "-t",
            f"{KEPT}:{version}",
            "-t",
            tag,
            "--build-arg",
            f"BASE={PYTHON_IMAGE}",
            "--build-arg",
            f"VERSION={version}",
            "--build-arg",
            f"MODE={mode}",
            str(APP),
            env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
        run("docker", "push", "-q", tag)
        images[version] = tag
    # the tag of the release in tests/fixtures/gitea/release.json, as v2
    release = f"{registry_addr}/{repo}:v1.4.0"
    run("docker", "tag", images["v2"], release)
    run("docker", "push", "-q", release)
    images["v1.4.0"] = release
    return images


def drop_local(*tags: str) -> None:
    for tag in tags:
        run("docker", "image", "rm", "-f", tag, check=False)


# -- the edge ----------------------------------------------------------------------------------
def backport(text: str, upstreams: dict[str, str]) -> str:
    text = text.replace("listen 443 ssl;", "listen 443 ssl http2;").replace("http2 on;", "")
    for name, target in upstreams.items():
        text = re.sub(
            rf"proxy_pass http://{name}(/[^;]*)?;",
            lambda m, n=name, t=target: (
                f"set $napops_upstream_{n} {t}; proxy_pass http://$napops_upstream_{n}{m[1] or ''};"
            ),
            text,
        )
    return text.replace("/var/run/nginx.pid", "/tmp/nginx.pid")


def render_edge(root: Path) -> Path:
    """/etc/nginx of the edge as edge-start.sh leaves it (the backend site enabled)."""
    nginx = root / "nginx"
    for sub in ("conf.d", "snippets"):
        shutil.copytree(EDGE / sub, nginx / sub)
    (nginx / "upstreams").mkdir(parents=True)
    upstreams: dict[str, str] = {}
    for path in sorted((EDGE / "upstreams").glob("*.conf")):
        found = re.search(
            r"upstream (\w+) \{.*?server ([\w.-]+:\d+) resolve;", path.read_text(), re.S
        )
        assert found, f"{path.name}: no `server NAME:PORT resolve;`"
        upstreams[found.group(1)] = found.group(2)
        (nginx / "upstreams" / path.name).write_text(f"# {path.name}: backported into the sites\n")
    shutil.copy("/etc/nginx/mime.types", nginx / "mime.types")
    (nginx / "enabled").mkdir()
    site = (EDGE / "templates" / f"{SITE}.conf.template").read_text()
    (nginx / "enabled" / f"{SITE}.conf").write_text(site.replace("${NAP_DOMAIN}", DOMAIN))
    live = root / "letsencrypt" / "live" / f"{SITE}.{DOMAIN}"
    self_signed(live / "fullchain.pem", live / "privkey.pem", f"{SITE}.{DOMAIN}", ip=None)
    for path in nginx.rglob("*.conf"):
        path.write_text(backport(path.read_text(), upstreams))
    (nginx / "nginx.conf").write_text(backport((EDGE / "nginx.conf").read_text(), upstreams))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return nginx


# -- the estate --------------------------------------------------------------------------------
@dataclass
class Estate:
    prefix: str  # Compose projects are <prefix>edge and <prefix>apps
    root: Path
    edge_port: int
    network: str

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.edge_port}/api/version"

    @property
    def host(self) -> str:
        return f"{SITE}.{DOMAIN}"

    def compose(
        self, stack: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        import os

        return run(
            *COMPOSE,
            "-p",
            f"{self.prefix}{stack}",
            "-f",
            str(self.root / f"{stack}.yml"),
            *args,
            env={**os.environ, **(env or {})},
        )

    def containers(self, service: str = "backend") -> list[dict[str, object]]:
        out = run(
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={self.prefix}apps",
            "--filter",
            f"label=com.docker.compose.service={service}",
            "--format",
            "{{json .}}",
        ).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def inspect(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(run("docker", "inspect", name).stdout)[0]
        return doc

    def get(self) -> str:
        """GET the version through the edge (TLS with the site's name as SNI)."""
        import http.client
        import ssl

        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        host = self.host

        class Sni(http.client.HTTPSConnection):
            def connect(self) -> None:
                http.client.HTTPConnection.connect(self)
                self.sock = ctx.wrap_socket(self.sock, server_hostname=host)

        conn = Sni("127.0.0.1", self.edge_port, timeout=5, context=ctx)
        try:
            conn.request("GET", "/api/version", headers={"Host": host})
            resp = conn.getresponse()
            body = resp.read().decode().strip()
            if resp.status != 200:
                raise OSError(f"status {resp.status}: {body[:80]}")
            return body
        finally:
            conn.close()


# bash's /dev/tcp: a check that costs no interpreter start-up on a busy machine
HEALTH = (
    "exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET /health HTTP/1.0\\\\r\\\\n\\\\r\\\\n' >&3"
    " && read -r line <&3 && echo $$line && test \\\"$$(echo $$line | cut -d' ' -f2)\\\" = 200"
)

APPS = """\
name: {prefix}apps
services:
  backend:
    extends: {{file: {hardening}, service: hardened}}
    image: ${{APP_IMAGE}}
    environment:
      PORT: "3000"
      TZ: Asia/Bangkok
      DEPLOY_TEST: "kept"
    labels:
      napops.test: deploy
    networks:
      edge:
        aliases: [api-backend]
    healthcheck:
      test: ["CMD", "bash", "-c", "{health}"]
      interval: 1s
      timeout: 10s
      retries: 3
    stop_grace_period: 10s
    deploy:
      resources:
        limits: {{cpus: "1.00", memory: 96M, pids: 64}}
  frontend:
    extends: {{file: {hardening}, service: hardened}}
    image: ${{APP_IMAGE}}
    environment:
      PORT: "3000"
    networks: [edge]
    healthcheck:
      test: ["CMD", "bash", "-c", "{health}"]
      interval: 1s
      timeout: 10s
      retries: 3
networks:
  edge:
    external: true
    name: {network}
"""

EDGE_STACK = """\
name: {prefix}edge
services:
  nginx:
    image: {image}
    user: "65532:65532"
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    sysctls:
      net.ipv4.ip_unprivileged_port_start: 80
    command: ["nginx", "-g", "daemon off;"]
    volumes:
      - {root}/nginx:/etc/nginx:ro
      - {root}/letsencrypt:/etc/letsencrypt:ro
    tmpfs:
      - /tmp:size=16m,mode=1777
      - /var/lib/nginx:size=64m,uid=65532,gid=65532
      - /var/log/nginx:size=1m,uid=65532,gid=65532
    ports: ["127.0.0.1:{port}:443"]
    networks: [edge]
    healthcheck:
      test: ["CMD", "wget", "-qO", "/dev/null", "http://127.0.0.1:8081/healthz"]
      interval: 2s
      retries: 3
networks:
  edge:
    external: true
    name: {network}
"""


@contextmanager
def estate(root: Path, image: str) -> Iterator[Estate]:
    """An edge and an apps stack serving ``image``; everything removed afterwards."""
    prefix = f"deploy-e2e-{uuid.uuid4().hex[:6]}-"
    network = f"{prefix}edge"
    root.mkdir(parents=True, exist_ok=True)
    render_edge(root)
    est = Estate(prefix, root, free_port(), network)
    (root / "apps.yml").write_text(
        APPS.format(
            prefix=prefix,
            network=network,
            health=HEALTH,
            hardening=ROOT / "compose" / "common" / "hardening.yml",
        )
    )
    (root / "edge.yml").write_text(
        EDGE_STACK.format(
            prefix=prefix, image=NGINX_IMAGE, root=root, port=est.edge_port, network=network
        )
    )
    run("docker", "network", "create", network)
    try:
        est.compose("apps", "up", "-d", "--wait", env={"APP_IMAGE": image})
        est.compose("edge", "up", "-d", "--wait")
        wait_for(lambda: est.get(), timeout=30, what="the app through the edge")
        yield est
    finally:
        for stack in ("edge", "apps"):
            run(
                "docker",
                "compose",
                "-p",
                f"{prefix}{stack}",
                "-f",
                str(root / f"{stack}.yml"),
                "down",
                "-t",
                "2",
                check=False,
                env={"APP_IMAGE": image, "PATH": "/usr/local/bin:/usr/bin:/bin"},
            )
        for c in run(
            "docker", "ps", "-aq", "--filter", f"name={prefix}", check=False
        ).stdout.split():
            run("docker", "rm", "-f", c, check=False)
        run("docker", "network", "rm", network, check=False)


# -- load --------------------------------------------------------------------------------------
@dataclass
class Load:
    proc: subprocess.Popen[str]
    stopfile: Path
    started: float  # time.time() when the load began

    def stop(self) -> dict[str, object]:
        self.stopfile.touch()
        out, err = self.proc.communicate(timeout=90)
        assert self.proc.returncode == 0, err
        result: dict[str, object] = json.loads(out)
        return result


def start_load(est: Estate, tmp: Path, connections: int = 50) -> Load:
    import sys

    stopfile = tmp / f"stop-{uuid.uuid4().hex[:6]}"
    started = time.time()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("loadgen.py")),
            est.url,
            est.host,
            str(connections),
            str(stopfile),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)  # every connection is up and busy
    return Load(proc, stopfile, started)


def section_for(est: Estate, **service: Any) -> dict[str, Any]:
    svc = {
        "stack": "apps",
        "port": 3000,
        "health_path": "/health",
        "health_timeout_seconds": 90,
        "verify_seconds": 6,
        **service,
    }
    return {
        "environments": {
            "e2e": {
                "project_prefix": est.prefix,
                "edge": {
                    "project": f"{est.prefix}edge",
                    "service": "nginx",
                    "resolver_valid_seconds": 2,
                },
            }
        },
        "services": {"backend": svc, "frontend": {**svc, "health_path": "/health"}},
        "on_busy": "queue",
    }
