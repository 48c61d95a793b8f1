"""A real OpenSSH server on 127.0.0.1 of this machine, with throwaway keys, standing in for a
NAS reached over ``ssh://``: its ``docker system dial-stdio`` (or a forced command) reaches this
machine's engine. The client's side is a HOME folder with ``.ssh/id_ed25519`` and a
``known_hosts`` holding the server's key, readable by the napops image's user."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers import free_port, missing, require_tool, wait_for


@dataclass(frozen=True)
class Server:
    port: int
    home: Path  # the client's HOME: .ssh/id_ed25519 and .ssh/known_hosts
    log: Path
    public_key: str


def _connects(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running(tmp_path: Path, key_options: str = "") -> Iterator[Server]:
    """sshd on 127.0.0.1 that lets the client's key log in as root; ``key_options`` go before
    the key in authorized_keys (``restrict,command="..."``: a forced command)."""
    binary = require_tool("sshd")
    require_tool("ssh-keygen")
    if os.geteuid() != 0:
        missing("root, to run sshd with a login for the current user")
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True
        )
    public = (keys / "client_key.pub").read_text().strip()
    (keys / "authorized_keys").write_text(f"{key_options} {public}\n".lstrip())
    port = free_port()
    (keys / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host_key'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPidFile {keys / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\n"
    )
    # what the container's user reads: its key and the server's key (throwaway, so readable)
    home = tmp_path / "home"
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(parents=True)
    shutil.copy(keys / "client_key", dot_ssh / "id_ed25519")
    host_key = (keys / "host_key.pub").read_text().split()[:2]
    (dot_ssh / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    for path in (home, dot_ssh, *dot_ssh.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    log = tmp_path / "sshd.log"
    proc = subprocess.Popen(
        [binary, "-D", "-e", "-f", str(keys / "sshd_config")], stderr=log.open("wb")
    )
    try:
        wait_for(lambda: _connects(port), what=f"sshd listening (log: {log})")
        yield Server(port, home, log, public)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
