"""The edge's nginx configuration passes `nginx -t` with real certificates.

The pinned image is nginx 1.28; this machine has Debian's nginx 1.22. The test therefore
rewrites the two newer constructs the configuration relies on before checking: `http2 on;`
(1.25.1, becomes the `http2` listen flag) and the upstream `resolve` parameter (1.27.3, needs
Docker's resolver; dropped, and container names point at 127.0.0.1). Everything else (sites
rendered from the templates as the image does, snippets, upstream includes, TLS files) is
checked as written. Certificates are made here with `cryptography`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from compose_render import COMPOSE
from tlscert import self_signed

from helpers import require_tool

EDGE = COMPOSE / "config" / "edge"
SITE_VARS = {
    "NAP_DOMAIN": "np-dms.work",
    "OPS_HOST": "asustor",
    "GRAFANA_PORT": "3000",
    "REGISTRY_PORT": "5000",
}


def write_certificate(live: Path, name: str) -> None:
    self_signed(live / name / "fullchain.pem", live / name / "privkey.pem", name, ip=None)


def backport(text: str, root: Path) -> str:
    """nginx 1.28 syntax to 1.22, and container paths to the temporary tree."""
    text = text.replace("listen 443 ssl;", "listen 443 ssl http2;").replace("http2 on;", "")
    text = text.replace("root /srv/landing;", f"root {root}/landing;")
    text = re.sub(r"server (\w+):(\d+) resolve;", r"server 127.0.0.1:\2;", text)
    text = text.replace("/etc/letsencrypt", str(root / "letsencrypt"))
    text = text.replace("/etc/nginx/", f"{root}/nginx/").replace("/var/www/acme", str(root))
    return text.replace("/var/run/nginx.pid", str(root / "nginx.pid"))


def render_tree(root: Path) -> Path:
    """The container's /etc/nginx as edge-start.sh leaves it, under ``root``."""
    nginx = root / "nginx"
    for sub in ("conf.d", "snippets", "upstreams"):
        shutil.copytree(EDGE / sub, nginx / sub)
    shutil.copy("/etc/nginx/mime.types", nginx / "mime.types")
    (nginx / "enabled").mkdir()
    for template in sorted((EDGE / "templates").glob("*.conf.template")):
        text = template.read_text()
        for var, value in SITE_VARS.items():
            text = text.replace("${" + var + "}", value)
        site = nginx / "enabled" / template.name.removesuffix(".template")
        site.write_text(text)
        write_certificate(
            root / "letsencrypt" / "live", f"{template.name.split('.')[0]}.np-dms.work"
        )
    for path in nginx.rglob("*.conf"):
        path.write_text(backport(path.read_text(), root))
    conf = nginx / "nginx.conf"
    conf.write_text(backport((EDGE / "nginx.conf").read_text(), root))
    return conf


def test_edge_configuration_passes_nginx_t(tmp_path: Path) -> None:
    nginx = require_tool("nginx")
    conf = render_tree(tmp_path)
    sites = sorted(p.name for p in (tmp_path / "nginx" / "enabled").iterdir())
    assert sites == [
        "backend.conf",
        "chat.conf",
        "git.conf",
        "grafana.conf",
        "lcbp3.conf",
        "n8n.conf",
        "pma.conf",
        "registry.conf",
        "www.conf",
    ]
    proc = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    # every template variable was given a value (SITE_VARS) in every rendered site
    for site in (tmp_path / "nginx" / "enabled").iterdir():
        assert "${" not in site.read_text(), f"{site.name} keeps an unset variable"


def test_every_site_has_an_upstream_or_a_runtime_target() -> None:
    upstreams = {p.stem for p in (EDGE / "upstreams").glob("*.conf")}
    for template in (EDGE / "templates").glob("*.conf.template"):
        for target in re.findall(r"proxy_pass http://([\w$]+)", template.read_text()):
            assert target.startswith("$") or target in upstreams, f"{template.name}: {target}"
