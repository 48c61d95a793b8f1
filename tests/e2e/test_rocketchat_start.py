"""compose/config/chat/rocketchat-start.sh in a real container: Rocket.Chat's MongoDB URLs are
built from the password secret at start, never visible in `docker inspect` or the logs; a
missing, empty or unsafe password stops the start with exit 78 naming the variable."""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import uuid
from pathlib import Path

import pytest

from helpers import ROOT, require_docker

pytestmark = pytest.mark.e2e
SCRIPT = ROOT / "compose" / "config" / "chat" / "rocketchat-start.sh"
BASE = "napops-local/debian:bookworm"
# what Rocket.Chat would see: hashes of the URLs, never the values
REPORT = (
    'printf "url %s\\n" "$(printf %s "$MONGO_URL" | sha256sum | cut -c1-16)"; '
    'printf "oplog %s\\n" "$(printf %s "$MONGO_OPLOG_URL" | sha256sum | cut -c1-16)"; '
    'printf "file %s\\n" "${MONGO_RC_PASSWORD_FILE-unset}"'
)


def run(
    tmp_path: Path, password: str | None, name: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    secret = tmp_path / "mongo_rc_password"
    if password is not None:
        secret.write_text(password + "\n")
        secret.chmod(0o644)
    mounts = ["-v", f"{SCRIPT}:/usr/local/lib/napops/rocketchat-start.sh:ro"]
    if password is not None:
        mounts += ["-v", f"{secret}:/run/secrets/mongo_rc_password:ro"]
    container = f"napops-test-rcstart-{name}-{uuid.uuid4().hex[:6]}"
    proc = subprocess.run(
        [
            "docker",
            "run",
            "--name",
            container,
            "--user",
            "65533:65533",
            "--read-only",
            "-e",
            "MONGO_RC_PASSWORD_FILE=/run/secrets/mongo_rc_password",
            *mounts,
            "--entrypoint",
            "/bin/sh",
            BASE,
            "/usr/local/lib/napops/rocketchat-start.sh",
            "sh",
            "-c",
            REPORT,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    inspect = subprocess.run(
        ["docker", "inspect", container], capture_output=True, text=True, timeout=30
    )
    subprocess.run(["docker", "rm", "-f", container], capture_output=True, timeout=30)
    return proc, inspect.stdout


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_the_urls_are_built_from_the_secret(tmp_path: Path) -> None:
    require_docker()
    password = secrets.token_hex(24)
    proc, inspected = run(tmp_path, password, "ok")
    assert proc.returncode == 0, proc.stderr
    url = f"mongodb://rocketchat:{password}@mongodb:27017/rocketchat?replicaSet=rs0&authSource=rocketchat"
    oplog = (
        f"mongodb://rocketchat:{password}@mongodb:27017/local?replicaSet=rs0&authSource=rocketchat"
    )
    assert proc.stdout.splitlines() == [
        f"url {digest(url)}",
        f"oplog {digest(oplog)}",
        "file unset",
    ]
    assert password not in proc.stdout + proc.stderr + inspected


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (None, "MONGO_RC_PASSWORD_FILE=/run/secrets/mongo_rc_password does not exist"),
        ("", "is empty"),
        ("p@ss/word", "must be URL-safe"),
    ],
)
def test_bad_secrets_stop_the_start(tmp_path: Path, password: str | None, message: str) -> None:
    require_docker()
    proc, _ = run(tmp_path, password, "bad")
    assert proc.returncode == 78 and message in proc.stderr
    assert "p@ss" not in proc.stderr
