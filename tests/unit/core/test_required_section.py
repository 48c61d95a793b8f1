"""A sidecar section with required keys is itself required: an empty or missing configuration
file is refused the same way by --check-config and by a start, with exit 2 and no traceback."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from helpers import SIDECARS
from napops.core import config as configmod
from napops.core import sidecar
from napops.core.errors import ConfigError


def section_of(service: str) -> dict:
    module = importlib.import_module(f"napops.{service}.main")
    return getattr(module, "SECTION", None) or {}


def test_a_section_with_required_keys_is_required() -> None:
    section = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}
    with pytest.raises(ConfigError) as err:
        configmod.load(configmod.common_schema("relay", section), None, environ={})
    assert err.value.problems == ["At 'relay': required but missing"]


def test_a_section_without_required_keys_may_be_left_out() -> None:
    section = {"type": "object", "properties": {"x": {"type": "integer", "default": 1}}}
    config = configmod.load(configmod.common_schema("certs", section), None, environ={})
    assert config["certs"] == {"x": 1}


@pytest.mark.parametrize("service", SIDECARS)
@pytest.mark.parametrize("how", [["--check-config"], []], ids=["check", "start"])
def test_empty_file_is_refused_alike_on_check_and_on_start(
    service: str, how: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "empty.yml"
    cfg.write_text("", encoding="utf-8")
    section = section_of(service)
    if not section.get("required"):
        # nothing is required: --check-config accepts the file (a start would serve, so only
        # the check is run here)
        if how:
            assert sidecar.run(service, section, None, ["--config", str(cfg), *how]) == 0
        return
    status = sidecar.run(service, section, None, ["--config", str(cfg), *how])
    err = capsys.readouterr().err
    assert status == 2
    assert f"At '{service}': required but missing" in err.splitlines()
    assert "Traceback" not in err


def test_the_relay_is_one_sidecar_whose_section_is_required() -> None:
    # keeps the parametrised test above from passing vacuously
    assert section_of("relay").get("required")


def test_no_configuration_at_all_is_refused_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NAPOPS_CONFIG", raising=False)
    assert sidecar.run("relay", section_of("relay"), None, ["--check-config"]) == 2
    assert "At 'relay': required but missing" in capsys.readouterr().err
