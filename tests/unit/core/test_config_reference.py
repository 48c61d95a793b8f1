"""The configuration schemas are the source of truth: every option documented, and the
generated docs/config/<sidecar>.md pages equal to what the sidecars print."""

from __future__ import annotations

import pytest

from helpers import ROOT
from napops.core import config as configmod
from napops.core import sidecar
from napops.core.jobcli import SIDECARS, sidecar_parts
from napops.core.reference import markdown, undocumented

DOCS = ROOT / "docs" / "config"


def test_the_common_schema_is_documented():
    assert undocumented(configmod.common_schema("certs")) == []


@pytest.mark.parametrize("service", SIDECARS)
def test_every_option_of_every_sidecar_has_a_description_and_an_example(service):
    section, _ = sidecar_parts(service)
    assert undocumented(configmod.common_schema(service, section)) == []


def test_an_undocumented_option_is_found():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "description": "x", "properties": {"b": {"type": "string"}}},
            "c": {"type": "integer", "description": "y", "default": 1},
        },
    }
    assert undocumented(schema) == ["a.b: no description", "a.b: no example"]


def test_the_options_of_a_map_entry_are_listed_and_checked():
    """A map's entries (``additionalProperties``: deploy's environments and services, the
    certs modules) are options too: listed as ``map.<name>.key`` and held to the same rule."""
    entry = {
        "type": "object",
        "required": ["port"],
        "properties": {
            "port": {"type": "integer", "description": "Its port.", "examples": [80]},
            "path": {"type": "string", "description": "Its path."},
        },
    }
    schema = {
        "type": "object",
        "properties": {
            "services": {
                "type": "object",
                "description": "By name.",
                "additionalProperties": entry,
                "default": {},
            }
        },
    }
    assert undocumented(schema) == ["services.<name>.path: no example"]
    rows = [line for line in markdown(schema, "t").splitlines() if line.startswith("| `")]
    assert [row.split("|")[1].strip() for row in rows] == [
        "`services`",
        "`services.<name>.port`",
        "`services.<name>.path`",
    ]
    assert "**required**" in rows[1]


def test_deploys_service_options_are_in_its_reference():
    page = (DOCS / "deploy.md").read_text(encoding="utf-8")
    for option in (
        "deploy.services.<name>.strategy",
        "deploy.environments.<name>.edge.project",
        "deploy.environments.<name>.docker.tls.ca_file",
    ):
        assert f"| `{option}` |" in page


@pytest.mark.parametrize("service", SIDECARS)
def test_docs_config_page_is_what_the_sidecar_prints(service, capsys):
    """`napops-<sidecar> --print-config-reference` (its entry point, in this process); run
    `make docs-config` after changing a schema."""
    section, setup = sidecar_parts(service)
    assert sidecar.run(service, section, setup, ["--print-config-reference"]) == 0
    printed = capsys.readouterr().out
    page = DOCS / f"{service}.md"
    assert page.is_file(), f"{page} is missing: run `make docs-config`"
    assert page.read_text(encoding="utf-8") == printed, f"{page} is stale: run `make docs-config`"
