"""Fixtures for the relay's integration tests: a real SMTP server, a Rocket.Chat receiver,
relay processes (tests/support)."""

from support.fixtures import chat, relays, smtp  # noqa: F401
