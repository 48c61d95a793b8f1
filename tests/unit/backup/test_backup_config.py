"""The backup sidecar's schema is documented, its reference is current, the shipped
configuration is valid and declares the estate's plan (contract 6.2)."""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers import ROOT
from napops.backup.main import JOBS, SECTION
from napops.core import config as configmod
from napops.core import reference, schema
from napops.core.jobs import cron_trigger


def test_every_option_is_documented_and_the_reference_is_current() -> None:
    assert reference.undocumented(configmod.common_schema("backup", SECTION)) == []
    out = reference.markdown(configmod.common_schema("backup", SECTION), "napops-backup")
    assert (ROOT / "docs" / "config" / "backup.md").read_text() == out


def test_the_shipped_configuration_is_valid_and_follows_the_estate_plan(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "compose" / "config" / "napops" / "backup.yml").read_text())
    section = doc["backup"]
    assert schema.validate(section, SECTION) == []
    full = schema.apply_defaults(section, SECTION)
    assert full["retention"] == {"daily": 30, "weekly": 4, "monthly": 6, "enabled": True}
    sched = full["schedules"]
    assert (sched["databases"], sched["redis"], sched["config"]) == (
        "0 2,8,14,20 * * *",
        "0 3 * * *",
        "0 4 * * 0",
    )
    # Sunday 04:00 in Bangkok
    trig = cron_trigger(sched["config"], "Asia/Bangkok")
    assert str(trig.fields[4]) == "sun" and str(trig.fields[5]) == "4"
    assert {i["strategy"] for i in section["items"]} == {
        "mariadb",
        "postgres",
        "mongodb",
        "redis",
        "elasticsearch",
        "gitea",
        "files",
    }
    assert set(JOBS.values()) - {None} == {"databases", "redis", "files", "config"}
