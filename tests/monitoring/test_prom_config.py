"""promtool and blackbox checks of the Prometheus configuration, per environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from monitoring_files import ENVIRONMENTS, PROMETHEUS, RULE_TESTS, RULES, stage_config

from helpers import require_tool


def run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{output}"
    return output


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_config_checks_with_each_environments_targets(env: str, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    config = stage_config(tmp_path / "prometheus", env)
    output = run([promtool, "check", "config", str(config)])
    # A missing target file is only a warning for promtool; for us it is a broken environment.
    assert "WARNING" not in output, output


def test_rules_check() -> None:
    promtool = require_tool("promtool")
    run([promtool, "check", "rules", *map(str, sorted(RULES.glob("*.yml")))])


def test_rule_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    tests = sorted(p.relative_to(PROMETHEUS) for p in RULE_TESTS.glob("*.test.yml"))
    assert tests, "no promtool test files"
    run([promtool, "test", "rules", *map(str, tests)], cwd=PROMETHEUS)


def test_blackbox_config_is_valid() -> None:
    blackbox = require_tool("prometheus-blackbox-exporter")
    config = PROMETHEUS / "blackbox" / "blackbox.yml"
    run([blackbox, "--config.check", f"--config.file={config}"])
