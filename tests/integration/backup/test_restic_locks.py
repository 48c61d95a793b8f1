"""A real restic repository: a dead holder's lock is removed before a run, a live holder's
lock is left alone; the reasons of a wrong password and a missing repository."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from support.restic import make_repo

from helpers import require_tool, wait_for
from napops.backup.restic import Lock, Restic, ResticError
from napops.backup.runner import remove_stale_locks

pytestmark = pytest.mark.integration


@pytest.fixture
def restic(tmp_path: Path) -> Restic:
    require_tool("restic")
    (tmp_path / "pw").write_text("pw\n")
    r = Restic(str(tmp_path / "repo"), str(tmp_path / "pw"), cache_dir=str(tmp_path / "cache"))
    make_repo(tmp_path / "repo", "pw")
    return r


def _holder(r: Restic) -> tuple[subprocess.Popen[bytes], Lock]:
    """A restic backup reading a stdin that stays open: it holds its lock while alive.
    Returns the process and the lock it created (the locks already there are not its)."""
    before = {lk.id for lk in r.locks()}
    proc = subprocess.Popen(
        ["restic", "backup", "--stdin"],
        env=r.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"data" * 1000)
    proc.stdin.flush()
    new = wait_for(
        lambda: [lk for lk in r.locks() if lk.id not in before], 30, what="restic's lock"
    )
    assert len(new) == 1, new
    return proc, new[0]


def test_only_the_dead_holders_lock_is_removed(restic: Restic) -> None:
    dead, dead_lock = _holder(restic)
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    live, live_lock = _holder(restic)
    try:
        assert live_lock.pid == live.pid and dead_lock.pid == dead.pid
        result = remove_stale_locks(restic)
        assert result == {"removed": [dead_lock.id], "kept": [live_lock.id]}
        assert [lk.id for lk in restic.locks()] == [live_lock.id]
    finally:
        assert live.stdin is not None
        live.stdin.close()
        live.wait(timeout=60)
    assert restic.locks() == []


def test_clear_reasons_before_anything_runs(restic: Restic, tmp_path: Path) -> None:
    restic.preflight()
    (tmp_path / "bad").write_text("wrong\n")
    with pytest.raises(ResticError, match="wrong password for the repository"):
        Restic(restic.repository, str(tmp_path / "bad")).preflight()
    with pytest.raises(ResticError, match="repository path .*/nowhere does not exist"):
        Restic(str(tmp_path / "nowhere"), restic.password_file).preflight()
    with pytest.raises(ResticError, match="password file .*/nofile does not exist"):
        Restic(restic.repository, str(tmp_path / "nofile")).preflight()
