"""A folder shared by the workers of one test run (pytest-xdist's run id), for what is made
once per run and read by every worker; folders of runs older than a day are removed."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

STALE_SECONDS = 24 * 3600


def run_dir(name: str) -> Path:
    """``<tmp>/napops-<name>-<run id>``, made if missing. Outside xdist, the run is the
    process."""
    base = Path(tempfile.gettempdir())
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    path = base / f"napops-{name}-{run}"
    if not path.is_dir():
        for old in base.glob(f"napops-{name}-*"):  # a concurrent run's stays: only old ones go
            try:
                if old != path and time.time() - old.stat().st_mtime > STALE_SECONDS:
                    shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
            except OSError:
                pass
        path.mkdir(parents=True, exist_ok=True)
    return path
