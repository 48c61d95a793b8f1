"""The napops image carries a working restic, usable as the backup sidecar runs it: its user
(65532), a read-only root, HOME=/home/napops, the repository on the mount point the stack
gives it (/var/lib/napops/restic). The image is the one `make images` built (the tag is shared
on this machine; CI builds it from this checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from helpers import napops_image, require_docker

pytestmark = pytest.mark.e2e


def test_restic_in_the_image_initialises_backs_up_a_stream_and_lists_it(tmp_path: Path) -> None:
    require_docker()
    image = napops_image()
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "password").write_text("a repository password\n")
    for path in (repo, tmp_path / "password"):
        os.chown(path, 65532, 65532)
    name = f"napops-image-restic-{uuid.uuid4().hex[:8]}"
    script = (
        "set -e; restic version; "
        "export RESTIC_REPOSITORY=/var/lib/napops/restic RESTIC_PASSWORD_FILE=/pw; "
        "restic init -q --cache-dir /tmp/cache; "
        "echo hello | restic backup -q --stdin --stdin-filename t/x.txt --cache-dir /tmp/cache; "
        "restic snapshots --json --cache-dir /tmp/cache"
    )
    argv = ["docker", "run", "--rm", "--name", name, "--user", "65532:65532", "--read-only",
            "--tmpfs", "/tmp", "-e", "HOME=/home/napops",
            "-v", f"{repo}:/var/lib/napops/restic", "-v", f"{tmp_path / 'password'}:/pw:ro",
            "--entrypoint", "sh", image, "-c", script]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, *rest = proc.stdout.splitlines()
    assert first.startswith("restic 0.") or first.startswith("restic 1."), first
    (snapshot,) = json.loads(rest[-1])
    assert snapshot["paths"] == ["/t/x.txt"] or snapshot["paths"][0].endswith("t/x.txt")
