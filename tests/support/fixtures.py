"""pytest fixtures over the stand-ins and the relay process. A conftest.py that wants them
imports them: ``from support.fixtures import chat, relays, smtp  # noqa: F401``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.relay import RelayProcess
from support.rocketchat import RocketChatReceiver
from support.smtp import SmtpServer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd, STARTTLS and AUTH required) on a free port."""
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def chat() -> Iterator[RocketChatReceiver]:
    """The Rocket.Chat incoming-webhook stand-in on a free port."""
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
