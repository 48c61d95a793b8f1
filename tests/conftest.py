"""Shared test fixtures. Helpers that tests import live in tests/helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
# compose/estate.py, the estate tool: tests render and list the estate through it
sys.path.insert(0, str(TESTS.parent / "compose"))
