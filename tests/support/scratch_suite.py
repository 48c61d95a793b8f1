"""A scratch test suite with the project's own conftest files, run by a real pytest: how
tests check what tests/conftest.py does (markers by folder, the longest-first order)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

INTEGRATION = "def test_unmarked():\n    pass\n"


def scratch(tmp_path: Path, unit: str, integration: str = INTEGRATION) -> Path:
    """tmp_path as a repository: tests/unit/test_u.py holds ``unit``,
    tests/integration/test_i.py ``integration``, with the project's conftest files and the
    support module they import."""
    tests = tmp_path / "tests"
    (tests / "unit").mkdir(parents=True)
    (tests / "integration").mkdir()
    (tests / "support").mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    shutil.copy(ROOT / "tests" / "unit" / "conftest.py", tests / "unit" / "conftest.py")
    for name in ("__init__.py", "schedule.py"):
        shutil.copy(ROOT / "tests" / "support" / name, tests / "support" / name)
    (tests / "unit" / "test_u.py").write_text(unit)
    (tests / "integration" / "test_i.py").write_text(integration)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = --strict-markers -p no:cacheprovider\n"
        "markers =\n    integration: x\n    e2e: x\n    bench: x\n"
    )
    return tmp_path


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real pytest run in ``folder`` (its output kept)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
