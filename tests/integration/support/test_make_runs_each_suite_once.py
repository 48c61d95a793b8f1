"""`make test` runs each suite once: its `make validate` step leaves to its pytest run what
that run does again (the promtool rule tests, the pytest files validate runs alone)."""

from __future__ import annotations

import subprocess

import pytest

from helpers import ROOT

pytestmark = pytest.mark.integration


def dry_run(*args: str) -> str:
    """The commands `make -n` would run (nothing runs)."""
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_validate_alone_runs_the_rule_tests_and_within_make_test_leaves_them_to_pytest() -> None:
    rule_tests = "promtool test rules tests/*.test.yml"  # what test_prom_config.py runs too
    alone = dry_run("validate")
    assert rule_tests in alone and " -m pytest " in alone
    within = dry_run("validate", "IN_TEST=1")
    assert rule_tests not in within and " -m pytest " not in within
