"""A secrets folder closed to every host user (0700, root's) still serves Compose secrets:
the engine bind-mounts the file, and the container's user reads it (compose/bin/secrets-gen)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from helpers import ROOT, require_docker

pytestmark = pytest.mark.e2e

IMAGE = "napops-local/debian:bookworm"  # built by `make images`; nothing is pulled
STACK = f"""\
services:
  reader:
    image: {IMAGE}
    user: "65532:65532"
    read_only: true
    command: ["cat", "/run/secrets/db_password"]
    secrets: [db_password]
secrets:
  db_password:
    file: ../secrets/${{NAPOPS_ENV:?}}/db_password
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a root-owned folder needs root")
def test_a_0700_root_folder_still_mounts_into_a_container() -> None:
    require_docker()
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        pytest.fail(f"{IMAGE} is missing: run `make images`")
    work = Path(tempfile.mkdtemp(prefix="newcomer-secrets-mount-"))
    project = f"newcomer-secrets-{uuid.uuid4().hex[:8]}"
    base = ["docker", "compose", "-p", project, "-f", str(work / "stacks" / "s.yml")]
    base += ["--env-file", str(work / "env" / "dev" / "s.env")]
    try:
        work.chmod(0o755)
        (work / "env" / "dev").mkdir(parents=True)
        (work / "env" / "dev" / "s.env").write_text("NAPOPS_ENV=dev\n")
        (work / "stacks").mkdir()
        (work / "stacks" / "s.yml").write_text(STACK)
        gen = subprocess.run(
            [str(ROOT / "compose" / "bin" / "secrets-gen"), "--compose-dir", str(work)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "ENV": "dev"},
        )
        assert gen.returncode == 0, gen.stderr
        folder = work / "secrets" / "dev"
        st = folder.stat()
        assert (st.st_uid, oct(st.st_mode & 0o777)) == (0, "0o700")
        value = (folder / "db_password").read_text()
        out = subprocess.run(
            [*base, "run", "--rm", "reader"], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == value
    finally:
        subprocess.run([*base, "down", "-v"], capture_output=True, timeout=120)
        shutil.rmtree(work)
