"""A deploy's outcome reaches the real relay (napops-relay as a process) and goes out on its
Rocket.Chat channel (the receiver speaks the incoming-webhook format)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from support.relay import TOKEN, RelayProcess, RocketChatReceiver, base_config

from helpers import wait_for  # noqa: E402
from napops.core.locks import Locks  # noqa: E402
from napops.deploy.engine import Deployer, Settings  # noqa: E402
from napops.deploy.metrics import DeployMetrics  # noqa: E402
from napops.deploy.notify import relay_notifier  # noqa: E402
from napops.deploy.state import Deployment, State, new_id  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[RelayProcess, RocketChatReceiver]]:
    chat = RocketChatReceiver().start()
    proc = RelayProcess(tmp_path, base_config(tmp_path / "relay-state", chat=chat)).start()
    try:
        yield proc, chat
    finally:
        proc.kill()
        chat.stop()


def test_failed_deploy_is_announced_through_the_relay(
    relay: tuple[RelayProcess, RocketChatReceiver], tmp_path: Path
) -> None:
    proc, chat = relay
    registry = CollectorRegistry()
    deployer = Deployer(
        Settings({"services": {}, "environments": {}}),
        State(tmp_path / "deploy.sqlite3"),
        DeployMetrics(registry),
        Locks(tmp_path / "locks", registry),
        notify=relay_notifier(proc.url, TOKEN),
    )
    dep = deployer.run(Deployment(new_id(), "backend", "prod", "reg/app:v9", "api"))
    assert dep.state == "failed" and "unknown service 'backend'" in (dep.reason or "")
    post = wait_for(lambda: chat.posts[:1], timeout=20, what="the Rocket.Chat post")[0]
    text = str(post)
    assert "backend" in text and "reg/app:v9" in text, post
    assert proc.metric("napops_relay_received_total", endpoint="alertmanager") == 1.0
