"""Fixtures for the relay's integration tests: a real SMTP server, a Rocket.Chat receiver."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay_fakes import RelayProcess, RocketChatReceiver, SmtpServer  # noqa: E402


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def chat() -> Iterator[RocketChatReceiver]:
    receiver = RocketChatReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def relays() -> Iterator[list[RelayProcess]]:
    """Relay processes a test starts; every one is stopped at the end."""
    started: list[RelayProcess] = []
    yield started
    for relay in started:
        relay.kill()
