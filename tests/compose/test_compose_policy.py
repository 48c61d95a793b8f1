"""The hardening policy (compose/policy.yml) applied statically: every stack of every
environment, as each host runs it, passes or carries a valid waiver; and a fixture Compose file
with one violation per service gives exactly one finding per violation."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers import FIXTURES, ROOT, require_docker
from napops.compliance import policy as policymod
from napops.compliance import static
from napops.compliance.audit import audit, failures
from napops.compliance.checks import CHECKS

POLICY = ROOT / "compose" / "policy.yml"


@pytest.fixture(scope="module")
def rendered() -> dict:
    require_docker()
    return static.workloads(static.compose_dir(str(ROOT / "compose")))


def test_the_estate_passes_the_policy_in_every_environment(rendered) -> None:
    policy = policymod.load(POLICY)
    assert set(rendered) == {"dev", "staging", "prod"}
    bad = [
        f"{f.env}/{f.stack}/{f.service}: {f.check}: {f.reason}"
        for env in rendered
        for f in failures(audit(rendered[env], policy))
    ]
    assert not bad, "\n".join(bad)


def test_every_waiver_is_used(rendered) -> None:
    """A waiver for a service that no longer breaks its check is stale: remove it."""
    policy = policymod.load(POLICY)
    used = {
        (f.check, f.service)
        for env in rendered
        for f in audit(rendered[env], policy)
        if f.result == "waived"
    }
    stale = [(w.check, w.service) for w in policy.waivers if (w.check, w.service) not in used]
    assert not stale


def test_each_violation_in_a_fixture_file_is_one_finding() -> None:
    require_docker()
    out = subprocess.run(
        [
            "docker",
            "compose",
            "-f",
            str(FIXTURES / "compliance" / "violations.yml"),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    workloads = static.from_model(json.loads(out.stdout), "fixture")
    found = failures(audit(workloads, policymod.Policy()))
    by_service: dict[str, list[str]] = {}
    for f in found:
        by_service.setdefault(f.service, []).append(f.check)
    expected = {cid: [cid] for cid in CHECKS if cid != "healthy"}  # health is runtime-only
    assert by_service == expected
