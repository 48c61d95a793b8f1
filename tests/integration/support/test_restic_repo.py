"""tests/support/restic.py: a copied repository with a cheap key is a real restic repository.

The real restic opens it with the password and refuses a wrong one; two copies are two
repositories (their own ids); what is backed up comes back and `restic check` passes; and the
key restic reads has the cheap scrypt parameters (the point of the copy)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.restic import CHEAP, make_repo

from helpers import require_tool

pytestmark = pytest.mark.integration


def _restic(repo: Path, password: str, *args: str, stdin: bytes | None = None):
    env = {**os.environ, "RESTIC_PASSWORD": password, "RESTIC_CACHE_DIR": str(repo) + "-cache"}
    return subprocess.run(
        ["restic", "-r", str(repo), *args], env=env, input=stdin, capture_output=True, timeout=120
    )


def test_a_copied_repository_opens_with_its_password_only_and_holds_data(tmp_path: Path) -> None:
    require_tool("restic")
    a = make_repo(tmp_path / "a", "right horse")
    b = make_repo(tmp_path / "b", "other")

    backup = _restic(a, "right horse", "backup", "--stdin", "--stdin-filename", "x", stdin=b"hi\n")
    assert backup.returncode == 0, backup.stderr
    dump = _restic(a, "right horse", "dump", "latest", "/x")
    assert dump.returncode == 0 and dump.stdout == b"hi\n", dump.stderr
    check = _restic(a, "right horse", "check", "--read-data")
    assert check.returncode == 0, check.stderr

    wrong = _restic(a, "other", "snapshots")
    assert wrong.returncode != 0 and b"wrong password" in wrong.stderr

    ids = [
        json.loads(_restic(r, pw, "cat", "config").stdout)["id"]
        for r, pw in ((a, "right horse"), (b, "other"))
    ]
    assert ids[0] != ids[1]
    assert _restic(b, "other", "snapshots", "--json").stdout.strip() == b"[]"

    (key,) = (a / "keys").iterdir()
    doc = json.loads(_restic(a, "right horse", "cat", "key", key.name).stdout)
    assert doc["kdf"] == "scrypt" and {k: doc[k] for k in CHEAP} == CHEAP
