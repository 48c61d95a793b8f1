"""tests/support/rundir.py: one folder per test run, shared by its workers; another run's
folder stays unless it is older than a day."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from support.rundir import STALE_SECONDS, run_dir


def test_a_runs_workers_share_its_folder_and_only_old_runs_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "old")
    old = run_dir("x")
    (old / "kept-by-then").write_text("")
    past = time.time() - STALE_SECONDS - 60
    os.utime(old, (past, past))
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "concurrent")
    concurrent = run_dir("x")

    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "this")
    mine = run_dir("x")
    (mine / "made-by-one-worker").write_text("")
    assert run_dir("x") == mine and (mine / "made-by-one-worker").exists()
    assert not old.exists() and concurrent.is_dir()
    assert run_dir("y") != mine
