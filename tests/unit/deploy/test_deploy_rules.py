"""Rules: the real Gitea payloads (tests/fixtures/gitea) matched against deploy rules."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from helpers import FIXTURES
from napops.deploy.rules import BadEvent, NoMatch, event_of, image_reference_ok, match

REPO = "gitea/webhooks"
RULES: list[dict[str, Any]] = [
    {
        "repository": REPO,
        "events": ["push"],
        "branch": "main",
        "service": "backend",
        "environment": "staging",
        "image": "registry.example/nap/backend:{sha}",
    },
    {
        "repository": REPO,
        "events": ["release", "package", "create"],
        "tag": "v*",
        "service": "backend",
        "environment": "prod",
        "image": "registry.example/nap/backend:{tag}",
    },
]


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "gitea" / f"{name}.json").read_text())
    return data


def test_release_deploys_its_tag_to_prod_only_through_a_tag_rule() -> None:
    target = match(event_of("release", fixture("release")), RULES)
    assert (target.service, target.environment) == ("backend", "prod")
    assert target.image == "registry.example/nap/backend:v1.4.0"
    with pytest.raises(NoMatch, match="tag 'v1.4.0'"):
        match(event_of("release", fixture("release")), RULES[:1] + [{**RULES[1], "tag": "r*"}])


def test_push_of_main_goes_to_staging_with_the_commit() -> None:
    payload = fixture("push")
    payload["ref"] = "refs/heads/main"
    target = match(event_of("push", payload), RULES)
    assert target.environment == "staging"
    assert target.image == f"registry.example/nap/backend:{payload['after']}"


def test_push_of_another_branch_matches_nothing() -> None:
    with pytest.raises(NoMatch, match="branch 'develop'"):
        match(event_of("push", fixture("push")), RULES)


def test_package_event_uses_the_package_version_and_skips_digest_versions() -> None:
    payload = fixture("package")
    target = match(event_of("package", payload), RULES)
    assert target.image.endswith(":v1.4.0")
    digest = copy.deepcopy(payload)
    digest["package"]["version"] = "sha256:" + "a" * 64
    with pytest.raises(NoMatch, match="manifest digest"):
        event_of("package", digest)


def test_unknown_repository_and_event_and_missing_fields() -> None:
    payload = fixture("release")
    payload["repository"]["full_name"] = "other/repo"
    with pytest.raises(NoMatch, match="no rule for repository 'other/repo'"):
        match(event_of("release", payload), RULES)
    with pytest.raises(BadEvent, match="unknown event type 'issues'"):
        event_of("issues", payload)
    with pytest.raises(BadEvent, match="At 'release.tag_name'"):
        event_of("release", {"repository": {"full_name": REPO}, "release": {}})


def test_a_draft_release_deploys_nothing() -> None:
    payload = fixture("release")
    payload["release"]["draft"] = True
    with pytest.raises(NoMatch):
        event_of("release", payload)


def test_image_references() -> None:
    assert image_reference_ok("127.0.0.1:5000/nap/app:v2")
    assert image_reference_ok("registry.np-dms.work/nap-dms/backend:v1.4.0")
    assert not image_reference_ok("UPPER/case:tag")
    assert not image_reference_ok("repo:bad tag")
