"""Shared test set-up. Helpers that tests import live in tests/helpers.py and tests/support/.

Folder and marker agree: every test under tests/integration is marked ``integration``, under
tests/e2e ``e2e``, under tests/bench ``bench`` (added here, whatever the file says); a test
under tests/unit may carry none of them, and starts no process and opens no socket
(tests/unit/conftest.py refuses both).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
# compose/estate.py, the estate tool: tests render and list the estate through it
sys.path.insert(0, str(TESTS.parent / "compose"))

FOLDER_MARKERS = {"integration": "integration", "e2e": "e2e", "bench": "bench"}

# `make test` runs files in parallel (pytest-xdist, --dist loadgroup): each file is one unit
# (its module fixtures start once), except that the tests of the Docker Engine suites run one
# at a time within their folder: they share engine-wide things (the dev stack's ports, scratch
# containers found by label, locally built test images), so a folder below is one group.
SERIAL_FOLDERS = ("e2e/backup", "e2e/deploy", "e2e")


def folder_of(item: pytest.Item) -> str:
    """The first folder under tests/ that holds the test's file ("" for tests/ itself)."""
    try:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
    except ValueError:
        return ""
    return parts[0] if len(parts) > 1 else ""


def parallel_group(item: pytest.Item) -> str:
    """The group of tests that one pytest-xdist worker runs in order (see SERIAL_FOLDERS)."""
    try:
        relative = Path(str(item.path)).resolve().relative_to(TESTS)
    except ValueError:
        return str(item.path)
    folder = relative.parent.as_posix()
    for serial in SERIAL_FOLDERS:
        if folder == serial or folder.startswith(serial + "/"):
            return serial
    return relative.as_posix()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced = []
    for item in items:
        item.add_marker(pytest.mark.xdist_group(parallel_group(item)))
        folder = folder_of(item)
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
        elif folder == "unit":
            marked = sorted(set(FOLDER_MARKERS.values()) & {m.name for m in item.iter_markers()})
            if marked:
                misplaced.append(f"{item.nodeid}: marked {', '.join(marked)}")
    if misplaced:
        raise pytest.UsageError(
            "tests under tests/unit start nothing; move these to tests/integration or "
            "tests/e2e:\n  " + "\n  ".join(misplaced)
        )
