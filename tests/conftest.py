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

# `make test` runs files in parallel (pytest-xdist, `-n`): each file is one unit of work (its
# module fixtures start once), except that the tests of the Docker Engine suites run one at a
# time within their folder: they share engine-wide things (the dev stack's ports, scratch
# containers found by label, locally built test images), so each folder below is one unit.
SERIAL_FOLDERS = ("e2e/backup", "e2e/deploy", "e2e")


def folder_of(item: pytest.Item) -> str:
    """The first folder under tests/ that holds the test's file ("" for tests/ itself)."""
    try:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
    except ValueError:
        return ""
    return parts[0] if len(parts) > 1 else ""


def parallel_unit(nodeid: str) -> str:
    """The unit of work one pytest-xdist worker runs in order (see SERIAL_FOLDERS)."""
    path = nodeid.split("::", 1)[0]
    folder = path.rpartition("/")[0].removeprefix("tests/")
    for serial in SERIAL_FOLDERS:
        if folder == serial or folder.startswith(serial + "/"):
            return serial
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Files (or serial folders) as units, like `--dist loadfile`. (`--dist loadgroup` with
    markers is not used: pytest-xdist 3.8 marks groups in a node attribute pytest 9 ignores.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FolderScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return parallel_unit(nodeid)

    return FolderScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced = []
    for item in items:
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
