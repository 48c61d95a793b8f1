"""Folder and marker agree (tests/conftest.py, tests/unit/conftest.py), checked by running
pytest on a scratch tests/ folder with the project's two conftest files: a unit test that
starts a process or opens a socket fails (even when the code swallows the error), tests under
integration/ are marked so without saying it, and a unit test marked integration is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.scratch_suite import pytest_in, scratch

pytestmark = pytest.mark.integration

UNIT = """
import socket, subprocess, sys

def test_pure():
    assert sum([1, 2]) == 3

def test_runs_a_process():
    subprocess.run([sys.executable, "-c", "pass"])

def test_swallows_the_refusal():
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    except Exception:
        pass
"""


def test_unit_tests_that_start_something_fail(tmp_path: Path) -> None:
    proc = pytest_in(scratch(tmp_path, UNIT), "tests/unit")
    assert proc.returncode == 1, proc.stdout
    assert "PASSED tests/unit/test_u.py::test_pure" in proc.stdout
    assert "FAILED tests/unit/test_u.py::test_runs_a_process" in proc.stdout
    # the refusal was swallowed, so the test itself passed: its teardown fails it
    assert "ERROR tests/unit/test_u.py::test_swallows_the_refusal" in proc.stdout
    assert "tried: called socket.connect ('127.0.0.1', 9)" in proc.stdout


def test_the_folder_gives_the_marker(tmp_path: Path) -> None:
    proc = pytest_in(scratch(tmp_path, "def test_pure():\n    pass\n"), "-m", "integration")
    assert proc.returncode == 0, proc.stdout
    assert "PASSED tests/integration/test_i.py::test_unmarked" in proc.stdout
    assert "test_pure" not in proc.stdout


def test_a_unit_test_marked_integration_is_refused(tmp_path: Path) -> None:
    unit = "import pytest\n\n@pytest.mark.integration\ndef test_x():\n    pass\n"
    proc = pytest_in(scratch(tmp_path, unit), "tests")
    assert proc.returncode != 0
    assert "tests/unit/test_u.py::test_x: marked integration" in proc.stdout + proc.stderr
