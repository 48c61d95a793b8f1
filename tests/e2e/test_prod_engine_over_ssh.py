"""In prod the backup and deploy sidecars (ASUSTOR) act on the QNAP's engine over ssh://, and
get there only what the QNAP's socket proxy for each allows.

Everything comes from the rendered prod stacks: the sidecar's user, HOME, read-only root and
the paths its ssh key and known_hosts are mounted at (napops stack, ASUSTOR), and the proxy's
environment and loopback port (agents stack, QNAP). A real sshd on this machine plays the QNAP:
the key's authorized_keys line forces `docker -H tcp://127.0.0.1:<proxy> system dial-stdio`,
as docs/backup.md tells the operator to write it. The napops image (paramiko, no ssh binary)
then lists containers through it, and is refused /info, which neither proxy allows.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from estate import Estate as EstateTool
from estate import Selection
from support import socket_proxy
from support import sshd as sshd_server

from helpers import ROOT, napops_image, require_docker

pytestmark = pytest.mark.e2e

SITE = "/opt/napops/lib/python3.11/site-packages/napops"  # where the image installed napops
PROBE = (
    "import sys\n"
    "from napops.core import dockerhost\n"
    "engine = dockerhost.Engine()\n"
    "engine.ping_or_raise()\n"
    "print('containers', len(engine.api.containers()))\n"
    "try:\n"
    "    engine.client.info()\n"
    "    print('info allowed')\n"
    "except Exception as exc:\n"
    "    print('info refused', getattr(getattr(exc, 'response', None), 'status_code', exc))\n"
)


@pytest.mark.parametrize(("sidecar", "proxy_service"), [
    ("backup", "socket-proxy-backup"),
    ("deploy", "socket-proxy-deploy"),
])  # fmt: skip
def test_sidecar_reaches_the_qnap_engine_over_ssh_through_its_proxy_only(
    sidecar: str, proxy_service: str, tmp_path: Path
) -> None:
    require_docker()
    image = napops_image()
    svc = EstateTool().render(Selection.stack("prod", "napops", "asustor"))["services"][sidecar]
    home = svc["environment"]["HOME"]
    targets = {Path(s["target"]).name: s["target"] for s in svc["secrets"]}
    assert {"id_ed25519", "known_hosts"} <= set(targets), svc["secrets"]
    assert all(targets[n].startswith(home + "/.ssh/") for n in ("id_ed25519", "known_hosts"))
    proxy_svc = EstateTool().render(Selection.stack("prod", "agents", "qnap"))["services"][
        proxy_service
    ]
    (published,) = proxy_svc["ports"]
    assert published["host_ip"] == "127.0.0.1" and published["target"] == 2375, published

    prefix = f"prod-ssh-e2e-{uuid.uuid4().hex[:6]}"
    with socket_proxy.started(proxy_svc["environment"], prefix) as proxy:
        # the QNAP's authorized_keys line of docs/backup.md, with this test's proxy port
        forced = f'restrict,command="docker -H tcp://127.0.0.1:{proxy.port} system dial-stdio"'
        with sshd_server.running(tmp_path, forced) as server:
            name = f"{prefix}-{sidecar}"
            argv = ["docker", "run", "--rm", "--name", name, "--network", "host",
                    "--user", svc["user"], "--read-only",
                    "-e", f"HOME={home}", "-e", f"DOCKER_HOST=ssh://root@127.0.0.1:{server.port}",
                    "-v", f"{server.home / '.ssh' / 'id_ed25519'}:{targets['id_ed25519']}:ro",
                    "-v", f"{server.home / '.ssh' / 'known_hosts'}:{targets['known_hosts']}:ro",
                    "-v", f"{ROOT / 'services' / 'napops'}:{SITE}:ro",
                    "--entrypoint", "python", image, "-c", PROBE]  # fmt: skip
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            finally:
                subprocess.run(["docker", "rm", "-f", name], capture_output=True)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            lines = proc.stdout.splitlines()
            assert lines[0].startswith("containers ") and lines[1] == "info refused 403", lines
            assert "Accepted publickey for root" in server.log.read_text()
        seen = {
            (q.method, q.path.split("?")[0].split("/", 2)[-1], q.status) for q in proxy.requests()
        }
        assert ("GET", "containers/json", 200) in seen, seen
        assert ("GET", "info", 403) in seen, seen
