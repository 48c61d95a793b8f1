"""`napops estate up|diff` is the estate tool's `up|diff` (compose/estate.py): same arguments,
same output, same exit statuses; the bad-input cases below fail before any engine is asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ROOT
from napops import cli

COMPOSE = str(ROOT / "compose")


@pytest.mark.parametrize("command", ["up", "diff"])
def test_an_unknown_environment_or_host_is_exit_2(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["estate", command, "--env", "nope", "--compose-dir", COMPOSE]) == 2
    assert "unknown environment 'nope'" in capsys.readouterr().err
    argv = ["estate", command, "--env", "prod", "--host", "nas", "--compose-dir", COMPOSE]
    assert cli.main(argv) == 2
    assert "prod has no host 'nas' (hosts: qnap, asustor)" in capsys.readouterr().err


def test_a_folder_without_the_estate_tool_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["estate", "up", "--env", "dev", "--compose-dir", str(tmp_path)]) == 2
    assert "has no estate.py: give --compose-dir" in capsys.readouterr().err


def test_a_broken_hosts_yml_is_exit_2_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "compose"
    (folder / "env" / "dev").mkdir(parents=True)
    (folder / "estate.py").write_text((ROOT / "compose" / "estate.py").read_text())
    (folder / "hosts.yml").write_text("environments:\n  dev:\n    hosts: &x\n")
    assert cli.main(["estate", "diff", "--env", "dev", "--compose-dir", str(folder)]) == 2
    assert "At 'compose/hosts.yml:3': unsupported value '&x'" in capsys.readouterr().err


def test_the_env_is_required() -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["estate", "up"])
    assert exited.value.code == 2
