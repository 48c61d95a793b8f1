"""A real ACME set-up on loopback: Pebble (Let's Encrypt's test CA) with pebble-challtestsrv as
its DNS (every name -> 127.0.0.1), the project's nginx edge configuration run by the project's
own compose/config/edge/edge-start.sh as an unprivileged user, and the project's certbot loop
(certbot-loop.sh with its deploy hook) obtaining and renewing by HTTP-01 through that nginx.

The edge configuration is rendered as tests/compose/test_edge_nginx_config.py does (nginx 1.28
constructs back-ported to Debian's 1.22, container paths moved to a temporary tree), and its
ports moved to free loopback ports: Pebble's ``httpPort`` is the edge's HTTP port, so the
HTTP-01 validation really goes through nginx's ``/.well-known/acme-challenge/`` location.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from certpki import Pki, issue, write_chain
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from helpers import ROOT, free_port, require_tool, wait_for

EDGE = ROOT / "compose" / "config" / "edge"
NAP_DOMAIN = "np-dms.work"
EDGE_USER = "www-data"  # nginx runs unprivileged, as the edge container's uid 101 does


def template_names(domain: str = NAP_DOMAIN) -> list[str]:
    """The certificates of the estate's TLS sites, read from the edge templates, as certbot's
    CERTBOT_DOMAINS entries: one per site, "a,b" when the site has several names (stored
    under a, the name its ``ssl_certificate`` path uses)."""
    entries = []
    for template in sorted((EDGE / "templates").glob("*.conf.template")):
        m = re.search(r"server_name\s+([^;]+);", template.read_text())
        assert m, template
        entries.append(",".join(m.group(1).replace("${NAP_DOMAIN}", domain).split()))
    return entries


class _Backend(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        body = b"backend ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _run_as() -> list[str]:
    return ["runuser", "-u", EDGE_USER, "--"] if os.geteuid() == 0 else []


@dataclass
class Edge:
    root: Path
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    status_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    backend: ThreadingHTTPServer | None = None

    @property
    def letsencrypt(self) -> Path:
        return self.root / "letsencrypt"

    @property
    def webroot(self) -> Path:
        return self.root / "acme"

    @property
    def nginx_argv(self) -> list[str]:
        return [
            shutil.which("nginx") or "nginx",
            "-c",
            str(self.root / "nginx" / "nginx.conf"),
            "-p",
            str(self.root),
            "-e",
            str(self.root / "error.log"),
        ]

    def render(self, backend_port: int) -> None:
        nginx = self.root / "nginx"
        for sub in ("conf.d", "snippets", "upstreams"):
            shutil.copytree(EDGE / sub, nginx / sub)
        shutil.copy("/etc/nginx/mime.types", nginx / "mime.types")
        for d in ("sites", "enabled", "temp"):
            (nginx / d).mkdir()
        (self.root / "landing").mkdir()
        (self.root / "landing" / "index.html").write_text("NAP-DMS\n")
        values = {
            "NAP_DOMAIN": NAP_DOMAIN,
            "OPS_HOST": "127.0.0.1",
            "GRAFANA_PORT": str(backend_port),
            "REGISTRY_PORT": str(backend_port),
        }
        for template in sorted((EDGE / "templates").glob("*.conf.template")):
            text = template.read_text()
            for var, value in values.items():
                text = text.replace("${" + var + "}", value)
            (nginx / "sites" / template.name.removesuffix(".template")).write_text(text)
        for path in [*nginx.rglob("*.conf")]:
            path.write_text(self._backport(path.read_text(), backend_port))
        temp = nginx / "temp"
        conf = self._backport((EDGE / "nginx.conf").read_text(), backend_port).replace(
            "http {",
            "http {\n"
            + "".join(
                f"    {kind}_temp_path {temp}/{kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            ),
            1,
        )
        conf = conf.replace(
            "access_log /dev/stdout json;", f"access_log {self.root}/access.log json;"
        )
        conf = conf.replace("error_log /dev/stderr warn;", f"error_log {self.root}/error.log warn;")
        (nginx / "nginx.conf").write_text(conf)

    def _backport(self, text: str, backend_port: int) -> str:
        """nginx 1.28 syntax to 1.22, container paths to the tree, ports to loopback."""
        text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{self.https_port} ssl http2;")
        text = text.replace(
            "listen 443 ssl default_server;",
            f"listen 127.0.0.1:{self.https_port} ssl default_server;",
        )
        text = text.replace("listen 9180;", f"listen 127.0.0.1:{self.metrics_port};")
        text = text.replace("root /srv/landing;", f"root {self.root}/landing;")
        text = text.replace("http2 on;", "")
        text = text.replace(
            "listen 80 default_server;", f"listen 127.0.0.1:{self.http_port} default_server;"
        )
        text = text.replace("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{self.status_port};")
        text = re.sub(r"server (\w+):(\d+) resolve;", f"server 127.0.0.1:{backend_port};", text)
        text = text.replace("/etc/letsencrypt", str(self.letsencrypt))
        text = text.replace("/etc/nginx/", f"{self.root}/nginx/").replace(
            "/var/www/acme", str(self.webroot)
        )
        return text.replace("/var/run/nginx.pid", str(self.root / "nginx.pid"))

    def start(self) -> None:
        self.backend = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
        threading.Thread(target=self.backend.serve_forever, daemon=True).start()
        self.render(self.backend.server_address[1])
        self.letsencrypt.mkdir()
        self.webroot.mkdir()
        if os.geteuid() == 0:
            uid = pwd.getpwnam(EDGE_USER).pw_uid
            for path in [self.root / "nginx", *(self.root / "nginx").rglob("*")]:
                os.chown(path, uid, -1)
            os.chown(self.root, uid, -1)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "EDGE_NGINX": " ".join(self.nginx_argv),
            "EDGE_RENDER": "true",
            "EDGE_SITES_DIR": str(self.root / "nginx" / "sites"),
            "EDGE_ENABLED_DIR": str(self.root / "nginx" / "enabled"),
            "EDGE_RELOAD_STAMP": str(self.letsencrypt / ".napops-reload"),
            "EDGE_RELOAD_POLL_SECONDS": "1",
        }
        log = open(self.root / "edge.log", "ab")  # noqa: SIM115 - closed with the process
        if os.geteuid() == 0:  # nginx reopens /dev/stderr as its own user
            os.chown(self.root / "edge.log", pwd.getpwnam(EDGE_USER).pw_uid, -1)
        self.proc = subprocess.Popen(
            [*_run_as(), "sh", str(EDGE / "edge-start.sh")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._answers_http, timeout=30, what="the edge's port 80")

    def _answers_http(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log()
        with socket.create_connection(("127.0.0.1", self.http_port), 1):
            return True

    def log(self) -> str:
        text = ""
        for name in ("edge.log", "error.log"):
            p = self.root / name
            if p.exists():
                text += f"--- {name}\n" + p.read_text(errors="replace")[-4000:]
        return text

    def events(self) -> list[str]:
        out = []
        for line in (self.root / "edge.log").read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line)["event"])
        return out

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.backend is not None:
            self.backend.shutdown()
            self.backend.server_close()

    def served(self, name: str) -> x509.Certificate:
        """The leaf nginx serves for SNI ``name``."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.https_port), 5) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                der = tls.getpeercert(binary_form=True)
        assert der
        return x509.load_der_x509_certificate(der)

    def enabled(self) -> list[str]:
        return sorted(p.name for p in (self.root / "nginx" / "enabled").iterdir())


@dataclass
class Pebble:
    root: Path
    http_port: int
    pki: Pki
    port: int = field(default_factory=free_port)
    management: int = field(default_factory=free_port)
    dns_port: int = field(default_factory=free_port)
    dns_management: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def ca_bundle(self) -> Path:
        return self.root / "pebble-api-ca.pem"

    def start_dns(self) -> None:
        srv = require_tool("pebble-challtestsrv")
        self.root.mkdir(parents=True, exist_ok=True)
        argv = [
            srv,
            "-dns01", f"127.0.0.1:{self.dns_port}",
            "-http01", "",
            "-https01", "",
            "-tlsalpn01", "",
            "-management", f"127.0.0.1:{self.dns_management}",
            "-defaultIPv4", "127.0.0.1",
            "-defaultIPv6", "",
        ]  # fmt: skip
        self.procs.append(self._spawn(argv, "challtestsrv.log"))
        wait_for(
            lambda: socket.create_connection(("127.0.0.1", self.dns_management), 1),
            what="pebble-challtestsrv",
        )

    def start(self) -> None:
        binary = require_tool("pebble")
        self.root.mkdir(parents=True, exist_ok=True)
        api = issue("localhost", self.pki.inter, names=["localhost", "127.0.0.1"])
        cert, key = write_chain(self.root, "pebble-api", api, self.pki.inter)
        self.ca_bundle.write_bytes(self.pki.root.pem())
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.management}",
                "certificate": str(cert),
                "privateKey": str(key),
                "httpPort": self.http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        (self.root / "pebble.json").write_text(json.dumps(config))
        argv = [binary, "-config", str(self.root / "pebble.json"),
                "-dnsserver", f"127.0.0.1:{self.dns_port}"]  # fmt: skip
        env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        self.pebble = self._spawn(argv, "pebble.log", env)
        self.procs.append(self.pebble)
        ctx = ssl.create_default_context(cafile=str(self.ca_bundle))
        try:
            wait_for(
                lambda: (
                    urllib.request.urlopen(self.directory, context=ctx, timeout=2).status == 200
                ),
                what="pebble",
            )
        except AssertionError as exc:
            log = (self.root / "pebble.log").read_text(errors="replace")[-2000:]
            state = f"exited {self.pebble.poll()}" if self.pebble.poll() is not None else "running"
            raise AssertionError(f"{exc}\npebble ({state}) said:\n{log}") from None

    def _spawn(
        self, argv: list[str], log: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        out = open(self.root / log, "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )

    def stop_ca(self) -> None:
        """Stop Pebble only (the CA is away; DNS stays)."""
        self.pebble.terminate()
        self.pebble.wait(10)
        self.procs.remove(self.pebble)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def roots_pem(self) -> bytes:
        ctx = ssl.create_default_context(cafile=str(self.ca_bundle))
        url = f"https://127.0.0.1:{self.management}/roots/0"
        return bytes(urllib.request.urlopen(url, context=ctx, timeout=5).read())


@dataclass
class Certbot:
    """Runs the project's certbot loop for one pass (CERTBOT_ONCE=1), as root (as in the
    certbot container), against Pebble."""

    edge: Edge
    pebble: Pebble
    domains: list[str]

    @property
    def textfile_dir(self) -> Path:
        """The node exporter's textfile directory (the agents stack's volume in Compose)."""
        return self.edge.root / "textfile"

    @property
    def textfile(self) -> Path:
        return self.textfile_dir / "napops_certbot.prom"

    def run_pass(
        self, extra: str = "", hook: Path | None = None, nginx_gid: int | None = None
    ) -> subprocess.CompletedProcess[str]:
        require_tool("certbot")
        root = self.edge.root
        self.textfile_dir.mkdir(exist_ok=True)
        nginx_user_gid = pwd.getpwnam(EDGE_USER).pw_gid if os.geteuid() == 0 else os.getgid()
        gid = nginx_user_gid if nginx_gid is None else nginx_gid
        env = {
            "PATH": os.environ["PATH"],
            "CERTBOT_ONCE": "1",
            "CERTBOT_DOMAINS": " ".join(self.domains),
            "CERTBOT_EMAIL": "ops@np-dms.work",
            "CERTBOT_SERVER": self.pebble.directory,
            "CERTBOT_DEPLOY_HOOK": str(hook or EDGE / "certbot-deploy-hook.sh"),
            "CERTBOT_WEBROOT": str(self.edge.webroot),
            "CERTBOT_LIVE_DIR": str(self.edge.letsencrypt / "live"),
            "CERTBOT_TEXTFILE": str(self.textfile),
            "CERTBOT_REPORTER": str(EDGE / "certbot-textfile.py"),
            "CERTBOT_HEARTBEAT": str(root / "certbot-heartbeat"),
            "CERTBOT_EXTRA_ARGS": (
                f"--config-dir {self.edge.letsencrypt} --work-dir {root}/certbot-work "
                f"--logs-dir {root}/certbot-logs --no-random-sleep-on-renew {extra}"
            ),
            "REQUESTS_CA_BUNDLE": str(self.pebble.ca_bundle),
            "NGINX_GID": str(gid),
            "LETSENCRYPT_DIR": str(self.edge.letsencrypt),
        }
        return subprocess.run(
            ["sh", str(EDGE / "certbot-loop.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def report(self) -> dict[str, float]:
        """The loop's textfile as Prometheus' text parser reads it: unlabelled samples by
        name, per-certificate ones as ``name/certificate``."""
        return parse_report(self.textfile.read_text())


def parse_report(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name
            if "certificate" in sample.labels:
                key += "/" + sample.labels["certificate"]
            assert key not in out, f"{key} twice"
            out[key] = sample.value
    return out


def make_root() -> Path:
    """A temporary tree the unprivileged nginx user can traverse (pytest's is private)."""
    root = Path(tempfile.mkdtemp(prefix="certs-acme-"))
    root.chmod(0o755)
    return root


def wait_served(edge: Edge, name: str, predicate: object, timeout: float = 30) -> x509.Certificate:
    def check() -> x509.Certificate | None:
        cert = edge.served(name)
        return cert if predicate(cert) else None  # type: ignore[operator]

    return wait_for(
        check, timeout=timeout, what=f"nginx to serve the expected certificate of {name}"
    )


def sleep_past_poll() -> None:
    time.sleep(3)  # edge-start.sh polls the stamp every second in the tests
