"""certbot's deploy hook hands a renewed key to nginx and asks for a reload.

Runs compose/config/edge/certbot-deploy-hook.sh on a certbot-shaped lineage (live/ symlinks
into archive/, keys 0600, folders 0700, as certbot leaves them) in a temporary folder; the group
is the test's own instead of nginx's 101 so that it also runs unprivileged.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from compose_render import COMPOSE

from helpers import require_tool

HOOK = COMPOSE / "config" / "edge" / "certbot-deploy-hook.sh"


def certbot_lineage(root: Path, name: str) -> Path:
    archive, live = root / "archive" / name, root / "live" / name
    archive.mkdir(parents=True)
    live.mkdir(parents=True)
    for n in (1, 2):
        (archive / f"privkey{n}.pem").write_text("key\n")
        (archive / f"privkey{n}.pem").chmod(0o600)
        (archive / f"fullchain{n}.pem").write_text("cert\n")
    (live / "privkey.pem").symlink_to(archive / "privkey2.pem")
    for folder in (root / "archive", root / "live"):
        folder.chmod(0o700)
    return live


def test_hook_gives_keys_to_nginx_group_and_requests_reload(tmp_path: Path) -> None:
    sh = require_tool("sh")
    live = certbot_lineage(tmp_path, "dms.np-dms.work")
    gid = os.getgid()
    env = {
        "PATH": os.environ["PATH"],
        "RENEWED_LINEAGE": str(live),
        "LETSENCRYPT_DIR": str(tmp_path),
        "NGINX_GID": str(gid),
    }
    proc = subprocess.run([sh, str(HOOK)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr

    for key in (tmp_path / "archive" / "dms.np-dms.work").glob("privkey*.pem"):
        st = key.stat()
        assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_gid == gid, key
    for folder in (tmp_path / "archive", tmp_path / "live"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert (tmp_path / ".napops-reload").is_file(), "nginx was not asked to reload"


def test_hook_fails_loudly_without_a_lineage(tmp_path: Path) -> None:
    sh = require_tool("sh")
    env = {"PATH": os.environ["PATH"], "LETSENCRYPT_DIR": str(tmp_path)}
    proc = subprocess.run([sh, str(HOOK)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert not (tmp_path / ".napops-reload").exists()
