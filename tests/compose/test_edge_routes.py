"""A real nginx with the edge's configuration answers every public name of the estate.

The configuration of compose/config/edge is rendered as the nginx container does (templates
with NAP_DOMAIN=np-dms.work, every site enabled with a certificate made here) and run by
Debian's nginx (1.22; the two newer constructs are rewritten as test_edge_nginx_config.py
explains). Each upstream and the ASUSTOR's Grafana and registry are stand-in HTTP servers on
127.0.0.1 that answer with their own name and what they received. Then every name of the
contract (tests/fixtures/estate-contract) is asked over TLS with its SNI and Host, and must reach
the contract's upstream on the path asked, WebSocket upgrades included; names the contract
lists as not served get no site. The frontend's baked API URL (https://backend.<domain>/api)
reaches the backend with its CORS exchange intact; /metrics is refused on the public names and
served on the internal metrics port.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from compose_render import COMPOSE
from estate_contract import load_contract
from tlscert import self_signed

from helpers import LoopbackServer, free_port, require_tool, wait_for

pytestmark = pytest.mark.integration

EDGE = COMPOSE / "config" / "edge"
DOMAIN = "np-dms.work"
# contract upstream -> stand-in name (ops:<port> is the ASUSTOR through OPS_HOST)
STAND_INS = {
    "frontend:3000": "frontend",
    "backend:3000": "backend",
    "gitea:3000": "gitea",
    "n8n:5678": "n8n",
    "rocketchat:3000": "rocketchat",
    "pma:80": "pma",
    "ops:3000": "grafana",
    "ops:5000": "registry",
    "rocketchat:9458": "rocketchat-metrics",
}
LANDING = "<h1>NP-DMS landing (stand-in)</h1>\n"


class StandIn(LoopbackServer):
    """Answers every request with JSON: its name, method, path, Host and upgrade headers."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def handler(self) -> type[BaseHTTPRequestHandler]:
        name = self.name

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                data = json.dumps(
                    {
                        "upstream": name,
                        "method": self.command,
                        "path": self.path,
                        "host": self.headers.get("Host"),
                        "upgrade": self.headers.get("Upgrade"),
                        "connection": self.headers.get("Connection"),
                        "origin": self.headers.get("Origin"),
                        "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
                        "body_bytes": len(body),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if self.headers.get("Origin"):  # as the backend's CORS (reflect the origin)
                    self.send_header("Access-Control-Allow-Origin", self.headers["Origin"])
                    self.send_header("Access-Control-Allow-Credentials", "true")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_OPTIONS = do_HEAD = answer

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@dataclass
class Edge:
    https: int
    http: int
    metrics: int


def port_config(text: str, root: Path, ports: dict[str, int], edge: Edge) -> str:
    """The container's paths and ports to the test's, nginx 1.28 syntax to 1.22."""
    text = text.replace(
        "listen 443 ssl default_server;", f"listen 127.0.0.1:{edge.https} ssl default_server;"
    )
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{edge.https} ssl http2;")
    text = text.replace("http2 on;", "")
    text = text.replace(
        "listen 80 default_server;", f"listen 127.0.0.1:{edge.http} default_server;"
    )
    text = text.replace("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{ports['healthz']};")
    text = text.replace("listen 9180;", f"listen 127.0.0.1:{edge.metrics};")
    text = re.sub(
        r"server (\w+):(\d+) resolve;",
        lambda m: f"server 127.0.0.1:{ports[STAND_INS[m.group(1) + ':' + m.group(2)]]};",
        text,
    )
    text = text.replace("http://rocketchat:9458", f"http://127.0.0.1:{ports['rocketchat-metrics']}")
    text = text.replace("/etc/letsencrypt", str(root / "letsencrypt"))
    text = text.replace("/etc/nginx/", f"{root}/nginx/").replace(
        "/var/www/acme", str(root / "acme")
    )
    text = text.replace("root /srv/landing;", f"root {root}/landing;")
    return text.replace("/var/run/nginx.pid", str(root / "nginx.pid"))


def render(root: Path, ports: dict[str, int], edge: Edge) -> Path:
    nginx = root / "nginx"
    for sub in ("conf.d", "snippets", "upstreams"):
        shutil.copytree(EDGE / sub, nginx / sub)
    shutil.copy("/etc/nginx/mime.types", nginx / "mime.types")
    (nginx / "enabled").mkdir()
    (root / "landing").mkdir()
    (root / "landing" / "index.html").write_text(LANDING)
    (root / "acme" / ".well-known" / "acme-challenge").mkdir(parents=True)
    (root / "acme" / ".well-known" / "acme-challenge" / "token").write_text("challenge")
    variables = {
        "NAP_DOMAIN": DOMAIN,
        "OPS_HOST": "127.0.0.1",
        "GRAFANA_PORT": str(ports["grafana"]),
        "REGISTRY_PORT": str(ports["registry"]),
    }
    for template in sorted((EDGE / "templates").glob("*.conf.template")):
        text = template.read_text()
        for var, value in variables.items():
            text = text.replace("${" + var + "}", value)
        assert "${" not in text, f"{template.name}: a variable the image's envsubst would not set"
        lineage = re.search(r"/etc/letsencrypt/live/([^/]+)/fullchain.pem", text)
        assert lineage, template.name
        live = root / "letsencrypt" / "live" / lineage.group(1)
        if not live.exists():
            self_signed(live / "fullchain.pem", live / "privkey.pem", lineage.group(1), ip=None)
        (nginx / "enabled" / template.name.removesuffix(".template")).write_text(text)
    for path in nginx.rglob("*.conf"):
        path.write_text(port_config(path.read_text(), root, ports, edge))
    conf = nginx / "nginx.conf"
    conf.write_text(
        "user root;\n" + port_config((EDGE / "nginx.conf").read_text(), root, ports, edge)
    )
    return conf


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    nginx = require_tool("nginx")
    root = tmp_path_factory.mktemp("edge")
    servers = {name: StandIn(name).start() for name in set(STAND_INS.values())}
    ports = {name: s.port for name, s in servers.items()} | {"healthz": free_port()}
    found = Edge(https=free_port(), http=free_port(), metrics=free_port())
    conf = render(root, ports, found)
    check = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(root), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(root), "-e", "stderr", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "nginx exited"
            conn = http.client.HTTPConnection("127.0.0.1", ports["healthz"], timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200

        wait_for(healthy, timeout=20, what="nginx answering")
        yield found
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        for server in servers.values():
            server.stop()


class SNIConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port with the public name as SNI and Host (no DNS, no verification)."""

    def __init__(self, name: str, port: int) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        super().__init__(name, port, context=context, timeout=10)
        self.port_ = port

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port_), timeout=10)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def ask(
    edge: Edge,
    name: str,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = SNIConnection(name, edge.https)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def served_routes() -> dict[str, dict[str, Any]]:
    contract = load_contract()
    not_served = {d["key"].removeprefix("route:") for d in contract["differences"]}
    return {
        host.replace("{domain}", DOMAIN): spec
        for host, spec in contract["routes"].items()
        if host not in not_served
    }


@pytest.mark.parametrize("host", sorted(served_routes()))
def test_every_public_name_reaches_its_upstream(edge: Edge, host: str) -> None:
    spec = served_routes()[host]
    if spec["upstream"] == "static":  # the landing folder, served by the edge itself
        assert ask(edge, host, "/")[::2] == (200, LANDING.encode())
        assert ask(edge, host, "/no-such-page")[0] == 404
        return
    for path in ("/", "/some/deep/path?with=query"):
        status, headers, data = ask(edge, host, path)
        assert status == 200, (host, path, status, data[:200])
        answer = json.loads(data)
        assert answer["upstream"] == STAND_INS[spec["upstream"]], (host, answer)
        assert answer["path"] == path and answer["host"] == host, answer
        assert answer["forwarded_proto"] == "https"
    if spec.get("websockets"):
        status, _, data = ask(
            edge, host, "/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"}
        )
        answer = json.loads(data)
        assert (answer["upgrade"], answer["connection"]) == ("websocket", "upgrade"), answer


def test_names_the_estate_does_not_serve_get_no_site(edge: Edge) -> None:
    contract = load_contract()
    refused = [
        d["key"].removeprefix("route:").replace("{domain}", DOMAIN)
        for d in contract["differences"]
        if d["key"].startswith("route:")
    ] + [f"dms.{DOMAIN}", "unknown.example"]
    for host in refused:
        with pytest.raises(ssl.SSLError):
            ask(edge, host, "/")


def test_the_frontends_baked_api_url_reaches_the_backend(edge: Edge) -> None:
    """The browser on https://lcbp3.<domain> calls https://backend.<domain>/api directly."""
    origin = {"Origin": f"https://lcbp3.{DOMAIN}"}
    preflight = {**origin, "Access-Control-Request-Method": "POST"}
    status, headers, data = ask(edge, f"backend.{DOMAIN}", "/api/auth/login", "OPTIONS", preflight)
    assert status == 200 and json.loads(data)["method"] == "OPTIONS"
    assert headers["access-control-allow-origin"] == f"https://lcbp3.{DOMAIN}"
    body = json.dumps({"username": "u", "password": "p" * 40}).encode()
    headers_in = {**origin, "Content-Type": "application/json"}
    status, headers, data = ask(
        edge, f"backend.{DOMAIN}", "/api/auth/login", "POST", headers_in, body
    )
    answer = json.loads(data)
    assert status == 200 and answer["upstream"] == "backend", answer
    assert (answer["method"], answer["path"], answer["body_bytes"]) == (
        "POST",
        "/api/auth/login",
        len(body),
    )
    assert answer["origin"] == f"https://lcbp3.{DOMAIN}"
    assert headers["access-control-allow-credentials"] == "true"
    # an upload the backend accepts (50 MB) passes the edge
    big = b"x" * (50 * 1024 * 1024)
    status, _, data = ask(edge, f"backend.{DOMAIN}", "/api/files/upload", "POST", origin, big)
    assert status == 200 and json.loads(data)["body_bytes"] == len(big)
    # the backend's unprefixed routes too
    for path in ("/health", "/docs"):
        status, _, data = ask(edge, f"backend.{DOMAIN}", path)
        assert status == 200 and json.loads(data)["path"] == path


def test_metrics_are_refused_publicly_and_served_internally(edge: Edge) -> None:
    for host in (f"backend.{DOMAIN}", f"git.{DOMAIN}"):
        status, _, data = ask(edge, host, "/metrics")
        assert status == 404 and b"upstream" not in data, host
    for service, upstream in (
        ("backend", "backend"),
        ("gitea", "gitea"),
        ("n8n", "n8n"),
        ("rocketchat", "rocketchat-metrics"),
    ):
        conn = http.client.HTTPConnection("127.0.0.1", edge.metrics, timeout=10)
        conn.request("GET", f"/metrics/{service}")
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200 and answer["upstream"] == upstream, answer
        assert answer["path"] == "/metrics", answer


def test_port_80_redirects_and_answers_acme(edge: Edge) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", edge.http, timeout=10)
    conn.request("GET", "/api/x?y=1", headers={"Host": f"backend.{DOMAIN}"})
    response = conn.getresponse()
    response.read()
    assert response.status == 301
    assert response.getheader("Location") == f"https://backend.{DOMAIN}/api/x?y=1"
    conn.request("GET", "/.well-known/acme-challenge/token", headers={"Host": f"lcbp3.{DOMAIN}"})
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"challenge")
