"""A deploy that changed an image asks the real compliance sidecar to scan (its job API), and a
failed deploy or an unchanged image asks nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from support.compliance import TOKEN, start_compliance

from helpers import wait_for
from napops.deploy.notify import scan_requester
from napops.deploy.state import Deployment

pytestmark = pytest.mark.integration


@pytest.fixture
def compliance(tmp_path: Path):
    policy = tmp_path / "policy.yml"
    policy.write_text("{}\n")
    proc, url = start_compliance(tmp_path, "tcp://127.0.0.1:1", policy)
    try:
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=2).ok, what="compliance sidecar")
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def runs(url: str) -> int:
    last = requests.get(f"{url}/jobs", timeout=5).json()["vulnerabilities"]["last"]
    return 0 if last is None else 1


def dep(state: str, image: str, previous: str) -> Deployment:
    return Deployment(
        "d1", "backend", "prod", image, "webhook", state=state, previous_image=previous
    )


def test_a_changed_image_asks_for_a_scan_and_nothing_else_does(compliance: str) -> None:
    ask = scan_requester(compliance, TOKEN)
    ask(dep("failed", "backend:2", "backend:1"))
    ask(dep("succeeded", "backend:1", "backend:1"))
    assert runs(compliance) == 0
    ask(dep("succeeded", "backend:2", "backend:1"))
    wait_for(lambda: runs(compliance) == 1, what="the vulnerability scan the deploy asked for")
    last = requests.get(f"{compliance}/jobs", timeout=5).json()["vulnerabilities"]["last"]
    assert last["trigger"] == "http"


def test_a_wrong_token_is_an_error(compliance: str) -> None:
    with pytest.raises(requests.HTTPError, match="401"):
        scan_requester(compliance, "wrong-token-0123456789")(dep("succeeded", "b:2", "b:1"))
